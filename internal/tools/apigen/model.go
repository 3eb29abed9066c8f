package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Model is the part of a botocore service model the generator reads.
type Model struct {
	Metadata   Metadata              `json:"metadata"`
	Operations map[string]*Operation `json:"operations"`
	Shapes     map[string]*Shape     `json:"shapes"`
}

// Metadata is the model's service metadata.
type Metadata struct {
	APIVersion   string `json:"apiVersion"`
	EndpointPref string `json:"endpointPrefix"`
	Protocol     string `json:"protocol"`
	ServiceID    string `json:"serviceId"`
	SigningName  string `json:"signingName"`
	TargetPrefix string `json:"targetPrefix"`
	JSONVersion  string `json:"jsonVersion"`
}

// Operation is a modeled operation.
type Operation struct {
	Name string `json:"name"`
	HTTP struct {
		Method       string `json:"method"`
		RequestURI   string `json:"requestUri"`
		ResponseCode int    `json:"responseCode"`
	} `json:"http"`
	Input  *Ref  `json:"input"`
	Output *Ref  `json:"output"`
	Errors []Ref `json:"errors"`
}

// Ref points at a shape, with the member-level traits botocore records there.
type Ref struct {
	Shape          string `json:"shape"`
	Location       string `json:"location"`
	LocationName   string `json:"locationName"`
	IdempotencyTok bool   `json:"idempotencyToken"`
	JSONValue      bool   `json:"jsonvalue"`
}

// Shape is a modeled shape.
type Shape struct {
	Type      string          `json:"type"`
	Members   map[string]*Ref `json:"members"`
	Required  []string        `json:"required"`
	Member    *Ref            `json:"member"`
	Key       *Ref            `json:"key"`
	Value     *Ref            `json:"value"`
	Enum      []string        `json:"enum"`
	Min       *float64        `json:"min"`
	Max       *float64        `json:"max"`
	Pattern   *string         `json:"pattern"`
	Union     bool            `json:"union"`
	Document  bool            `json:"document"`
	Exception bool            `json:"exception"`
	Error     *struct {
		Code           string `json:"code"`
		HTTPStatusCode int    `json:"httpStatusCode"`
		SenderFault    bool   `json:"senderFault"`
	} `json:"error"`
	Fault bool `json:"fault"`

	// memberOrder keeps the model's member order, which Go's map decoding loses.
	memberOrder []string
}

// loadModel reads a service-2.json or service-2.json.gz file.
func loadModel(path string) (*Model, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var m Model
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := recordMemberOrder(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// recordMemberOrder re-reads the shapes with a streaming decoder to learn the
// order of each structure's members, so generated structs follow the model.
func recordMemberOrder(raw []byte, m *Model) error {
	var doc struct {
		Shapes map[string]struct {
			Members json.RawMessage `json:"members"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	for name, s := range doc.Shapes {
		if len(s.Members) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(s.Members))
		if _, err := dec.Token(); err != nil { // {
			return err
		}
		var order []string
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			order = append(order, tok.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		}
		m.Shapes[name].memberOrder = order
	}
	return nil
}

// findModel locates botocore's model for service/version: in $BOTOCORE_DATA,
// else in the data directory of the botocore package python3 imports.
func findModel(service, version string) (string, error) {
	var roots []string
	if d := os.Getenv("BOTOCORE_DATA"); d != "" {
		roots = append(roots, d)
	}
	out, err := exec.Command("python3", "-c", "import botocore, os; print(os.path.dirname(botocore.__file__))").Output()
	if err == nil {
		roots = append(roots, filepath.Join(strings.TrimSpace(string(out)), "data"))
	}
	for _, root := range roots {
		for _, name := range []string{"service-2.json", "service-2.json.gz"} {
			p := filepath.Join(root, service, version, name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("no botocore model for %s %s (looked in %v); pass -model", service, version, roots)
}

// selectOperations returns the named operations, or all when names is empty,
// sorted by name.
func (m *Model) selectOperations(names []string) ([]*Operation, error) {
	var ops []*Operation
	if len(names) == 0 {
		for _, op := range m.Operations {
			ops = append(ops, op)
		}
	} else {
		for _, n := range names {
			op, ok := m.Operations[n]
			if !ok {
				return nil, fmt.Errorf("operation %q is not in the model", n)
			}
			ops = append(ops, op)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Name < ops[j].Name })
	return ops, nil
}

// reachable returns the names of every shape the operations use, sorted.
func (m *Model) reachable(ops []*Operation) []string {
	seen := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		s := m.Shapes[name]
		for _, r := range s.Members {
			visit(r.Shape)
		}
		for _, r := range []*Ref{s.Member, s.Key, s.Value} {
			if r != nil {
				visit(r.Shape)
			}
		}
	}
	for _, op := range ops {
		if op.Input != nil {
			visit(op.Input.Shape)
		}
		if op.Output != nil {
			visit(op.Output.Shape)
		}
		for _, e := range op.Errors {
			visit(e.Shape)
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *Shape) isRequired(member string) bool {
	for _, r := range s.Required {
		if r == member {
			return true
		}
	}
	return false
}
