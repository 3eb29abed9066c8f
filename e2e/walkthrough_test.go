package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestREADMEWalkthrough runs examples/walkthrough.sh, the README's
// walkthrough from upload to a result file with the AWS CLI, against a
// fresh server, and checks the result it prints.
func TestREADMEWalkthrough(t *testing.T) {
	t.Parallel()
	requireAWSCLI(t)
	srv := startServer(t, "walkthrough")
	cmd := exec.Command("bash", "../examples/walkthrough.sh")
	cmd.Env = append(os.Environ(), "ENDPOINT="+srv.endpoint, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s\n%s", err, out, stderr.String())
	}
	got := strings.Fields(string(out))
	// Six buyers each in travel (10+30+…+110) and sports (20+40+…+120); the
	// chess segment has two buyers, under the threshold of three.
	want := []string{"segment,buyers,revenue", "sports,6,420", "travel,6,360"}
	if len(got) != 3 || got[0] != want[0] || !(strings.Join(got[1:], " ") == want[1]+" "+want[2] || strings.Join(got[1:], " ") == want[2]+" "+want[1]) {
		t.Fatalf("walkthrough printed %q, want %q in some row order\n%s", out, want, stderr.String())
	}
	srv.stop(t)
}
