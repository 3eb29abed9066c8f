package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// minimalModel is an awsJson model with the two features the CloudWatch Logs
// model brought: error shapes without a message member, and no timestamp or
// document shape anywhere (times are epoch-millisecond longs).
const minimalModel = `{
  "metadata": {"apiVersion": "2020-01-01", "endpointPrefix": "mini", "protocol": "json",
               "serviceId": "Mini", "targetPrefix": "Mini_20200101", "jsonVersion": "1.1"},
  "operations": {
    "PutThing": {"name": "PutThing", "http": {"method": "POST", "requestUri": "/"},
                 "input": {"shape": "PutThingRequest"}, "output": {"shape": "PutThingResponse"},
                 "errors": [{"shape": "BareException"}, {"shape": "TokenException"}, {"shape": "UnavailableException"}]}
  },
  "shapes": {
    "PutThingRequest": {"type": "structure", "required": ["name"],
      "members": {"name": {"shape": "Name"}, "time": {"shape": "Millis"}}},
    "PutThingResponse": {"type": "structure", "members": {"token": {"shape": "Name"}}},
    "Name": {"type": "string", "min": 1, "max": 10, "pattern": "[a-z]+"},
    "Millis": {"type": "long", "min": 0},
    "BareException": {"type": "structure", "members": {}, "exception": true},
    "TokenException": {"type": "structure", "members": {"expectedToken": {"shape": "Name"}}, "exception": true},
    "UnavailableException": {"type": "structure", "members": {}, "exception": true, "fault": true}
  }
}`

// TestGenerateCompiles generates a package from minimalModel and builds it
// inside this module through an overlay, so nothing is written to the tree.
func TestGenerateCompiles(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "service-2.json")
	if err := os.WriteFile(model, []byte(minimalModel), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := run(model, "mini", "2020-01-01", "miniapi", out, ""); err != nil {
		t.Fatal(err)
	}
	types, err := os.ReadFile(filepath.Join(out, "types.go"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(types), "internal/wire") {
		t.Errorf("types.go imports wire although no shape needs it")
	}
	if !strings.Contains(string(types), `func (e *BareException) Error() string { return "BareException" }`) {
		t.Errorf("BareException has no plain Error method:\n%s", types)
	}

	// Build the generated files as package internal/tools/apigen/testdata/miniapi.
	pkgDir, err := filepath.Abs(filepath.Join("testdata", "miniapi"))
	if err != nil {
		t.Fatal(err)
	}
	overlay := struct{ Replace map[string]string }{Replace: map[string]string{}}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		overlay.Replace[filepath.Join(pkgDir, e.Name())] = filepath.Join(out, e.Name())
	}
	// A test that uses the generated API.
	use := filepath.Join(dir, "use_test.go")
	if err := os.WriteFile(use, []byte(`package miniapi

import (
	"errors"
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

func TestUse(t *testing.T) {
	var err error = &BareException{}
	if err.Error() != "BareException" || (&BareException{}).ErrorCode() != "BareException" {
		t.Fatal(err)
	}
	tok := "abc"
	if got := (&TokenException{ExpectedToken: &tok}).Error(); got != "TokenException" {
		t.Fatal(got)
	}
	var v wire.Validator
	neg := int64(-1)
	(&PutThingInput{Name: "UPPER", Time: &neg}).Validate(&v)
	if len(v.Errors) != 2 {
		t.Fatalf("want 2 errors, got %v", v.Errors)
	}
	shapes := ErrorShapes()
	if s := shapes["UnavailableException"]; s.Status != 500 || s.Sender {
		t.Fatalf("fault shape: %+v", s)
	}
	if s := shapes["BareException"]; s.Status != 400 || len(s.Members) != 0 {
		t.Fatalf("bare shape: %+v", s)
	}
	var ue *UnavailableException
	if errors.As(error(&UnavailableException{}), &ue) == false {
		t.Fatal("errors.As")
	}
	if TargetPrefix != "Mini_20200101" || len(Operations(UnimplementedService{})) != 1 {
		t.Fatal("metadata")
	}
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay.Replace[filepath.Join(pkgDir, "use_test.go")] = use
	raw, _ := json.Marshal(overlay)
	ovPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ovPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// go vet and go test chdir into the package directory, which exists only
	// in the overlay: compile the test binary instead and run it elsewhere.
	bin := filepath.Join(dir, "miniapi.test")
	for _, args := range [][]string{
		{"build", "-overlay", ovPath, "./testdata/miniapi"},
		{"test", "-c", "-vet=off", "-o", bin, "-overlay", ovPath, "./testdata/miniapi"},
	} {
		if b, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	cmd := exec.Command(bin, "-test.count=1")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generated package's test: %v\n%s", err, b)
	}
}
