package cleanrooms

import (
	"context"
	"encoding/json"
	"strings"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// maxTagsPerResource is AWS's limit of user tags on one resource.
const maxTagsPerResource = 50

// checkTags applies AWS's tagging rules beyond the model's: at most 50 tags,
// and no keys in the reserved aws: prefix.
func checkTags(field string, tags map[string]string) error {
	if len(tags) > maxTagsPerResource {
		return invalid(field, "A resource can have at most %d tags", maxTagsPerResource)
	}
	for k := range tags {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return invalid(field, "Tag keys starting with aws: are reserved for AWS use")
		}
	}
	return nil
}

func readTags(ctx context.Context, tx store.Tx, arn string) (map[string]string, *store.Record, error) {
	rec, err := tx.Get(ctx, kindTags, arn)
	if isNotFound(err) {
		return map[string]string{}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	tags := map[string]string{}
	if err := json.Unmarshal(rec.Data, &tags); err != nil {
		return nil, nil, fault.Wrap(fault.Internal, err, "stored tags of %s are corrupt", arn)
	}
	return tags, rec, nil
}

// putTags merges tags into the resource's tags.
func putTags(ctx context.Context, tx store.Tx, arn, account string, tags map[string]string) error {
	if len(tags) == 0 {
		return nil
	}
	have, rec, err := readTags(ctx, tx, arn)
	if err != nil {
		return err
	}
	for k, v := range tags {
		have[k] = v
	}
	if len(have) > maxTagsPerResource {
		return invalid("tags", "A resource can have at most %d tags; this request would give it %d", maxTagsPerResource, len(have))
	}
	return writeTags(ctx, tx, arn, account, have, rec)
}

func writeTags(ctx context.Context, tx store.Tx, arn, account string, tags map[string]string, rec *store.Record) error {
	if rec == nil {
		if len(tags) == 0 {
			return nil
		}
		return tx.Insert(ctx, &store.Record{Kind: kindTags, ID: arn, Account: account, Data: encode(tags)})
	}
	if len(tags) == 0 {
		return tx.Delete(ctx, kindTags, arn)
	}
	rec.Data = encode(tags)
	return tx.Update(ctx, rec)
}

func deleteTags(ctx context.Context, tx store.Tx, arn string) error {
	err := tx.Delete(ctx, kindTags, arn)
	if isNotFound(err) {
		return nil
	}
	return err
}

// taggable checks that arn names a resource the caller owns and can tag. A
// resource of another account, in another region, of an unknown type or
// that does not exist is not found.
func (s *Service) taggable(ctx context.Context, tx store.Tx, arn, account string) error {
	notFound := fault.Missing("", arn, "Resource %s does not exist", arn)
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "cleanrooms" || parts[3] != s.region || parts[4] != account {
		return notFound
	}
	typ, id, ok := strings.Cut(parts[5], "/")
	if !ok {
		return notFound
	}
	var err error
	switch typ {
	case "collaboration":
		var c *collaboration
		c, err = getCollaboration(ctx, tx, id)
		if err == nil && (c.rec.Status != statusActive || c.rec.Account != account) {
			return notFound
		}
	case "membership":
		msID, rest, sub := strings.Cut(id, "/")
		if !sub {
			var ms *membership
			ms, err = getMembership(ctx, tx, id)
			if err == nil && ms.rec.Account != account {
				return notFound
			}
			break
		}
		kind, subID, ok := strings.Cut(rest, "/")
		if !ok {
			return notFound
		}
		var owner, owningMembership string
		switch kind {
		case "analysistemplate":
			var rec *store.Record
			var t *analysisTemplate
			if rec, err = tx.Get(ctx, kindAnalysisTemplate, subID); err == nil {
				t, err = analysisTemplateOf(rec)
			}
			if err == nil {
				owner, owningMembership = rec.Account, t.data.MembershipID
			}
		case "configuredtableassociation":
			var a *association
			if a, err = getAssociation(ctx, tx, subID); err == nil {
				owner, owningMembership = a.rec.Account, a.data.MembershipID
			}
		default:
			return notFound
		}
		if err == nil && (owner != account || owningMembership != msID) {
			return notFound
		}
	case "configuredtable":
		var t *configuredTable
		t, err = getConfiguredTable(ctx, tx, id)
		if err == nil && t.rec.Account != account {
			return notFound
		}
	default:
		return notFound
	}
	if isNotFound(err) {
		return notFound
	}
	return err
}

func (s *Service) TagResource(ctx context.Context, in *api.TagResourceInput) (*api.TagResourceOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := s.taggable(ctx, tx, in.ResourceArn, account); err != nil {
			return err
		}
		return putTags(ctx, tx, in.ResourceArn, account, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return &api.TagResourceOutput{}, nil
}

func (s *Service) UntagResource(ctx context.Context, in *api.UntagResourceInput) (*api.UntagResourceOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := s.taggable(ctx, tx, in.ResourceArn, account); err != nil {
			return err
		}
		tags, rec, err := readTags(ctx, tx, in.ResourceArn)
		if err != nil {
			return err
		}
		for _, k := range in.TagKeys {
			delete(tags, k)
		}
		return writeTags(ctx, tx, in.ResourceArn, account, tags, rec)
	})
	if err != nil {
		return nil, err
	}
	return &api.UntagResourceOutput{}, nil
}

func (s *Service) ListTagsForResource(ctx context.Context, in *api.ListTagsForResourceInput) (*api.ListTagsForResourceOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var tags map[string]string
	err = s.store.View(ctx, func(tx store.Tx) error {
		if err := s.taggable(ctx, tx, in.ResourceArn, account); err != nil {
			return err
		}
		tags, _, err = readTags(ctx, tx, in.ResourceArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &api.ListTagsForResourceOutput{Tags: tags}, nil
}
