package main

import "fmt"

// patch corrects one shape of a botocore model where the model contradicts
// what the service really sends and accepts. Each patch says why; the list is
// short on purpose, and generation fails if a patched shape disappears so a
// model update makes us look again.
type patch struct {
	shape   string
	max     *float64
	pattern *string
	why     string
}

func f(v float64) *float64 { return &v }
func s(v string) *string   { return &v }

var modelPatches = map[string][]patch{
	"cleanrooms": {
		{
			shape: "ConfiguredTableAssociationArn",
			max:   f(200),
			pattern: s(`arn:aws:[\w]+:[\w]{2}-[\w]{4,9}-[\d]:[\d]{12}:` +
				`(configuredtableassociation/[\d\w-]+/[\d\w-]+|membership/[\d\w-]+/configuredtableassociation/[\d\w-]+)`),
			why: "AWS's association ARNs are membership/MID/configuredtableassociation/ID (IAM's resource type, and the " +
				"form schemas' resourceArn pattern uses); two UUIDs and an account never fit the model's 100 characters",
		},
		{
			shape: "CleanroomsArn",
			max:   f(200),
			why:   "tag operations take the ARNs of analysis templates and associations, which are longer than 100 characters",
		},
	},
}

// applyPatches applies the service's patches to m.
func applyPatches(m *Model, service string) error {
	for _, p := range modelPatches[service] {
		sh, ok := m.Shapes[p.shape]
		if !ok {
			return fmt.Errorf("patch for %s: the model has no such shape any more; review the patch (%s)", p.shape, p.why)
		}
		if p.max != nil {
			sh.Max = p.max
		}
		if p.pattern != nil {
			sh.Pattern = p.pattern
		}
	}
	return nil
}
