package cwlogs_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/cwlogs"
)

// TestAWSCLI reads query logs the way members do, with the unmodified AWS
// CLI: `aws logs filter-log-events --log-group-name /aws/cleanrooms`. It
// skips when the aws executable is missing, except under CI=true, as the
// e2e suites do.
func TestAWSCLI(t *testing.T) {
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the aws executable (AWS CLI) is not on PATH: %v", err)
		}
		t.Skipf("the aws executable (AWS CLI) is not on PATH: %v", err)
	}
	e := newEnv(t)
	home := t.TempDir()
	run := func(account string, args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, awsCLI, append([]string{"--endpoint-url", e.url, "--output", "json", "logs"}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
			"AWS_ACCESS_KEY_ID=" + account, "AWS_SECRET_ACCESS_KEY=x", "AWS_DEFAULT_REGION=us-east-1",
			"AWS_CONFIG_FILE=" + home + "/none", "AWS_SHARED_CREDENTIALS_FILE=" + home + "/none",
			"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER="}
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("aws logs %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return out
	}

	base := time.Now().Add(-time.Minute)
	var evs []cwlogs.Event
	for i, status := range []string{"STARTED", "COMPLETED", "STARTED", "FAILED"} {
		evs = append(evs, cwlogs.Event{Time: base.Add(time.Duration(i) * time.Second),
			Message: `{"eventId":"q` + string(rune('0'+i/2)) + `","status":"` + status + `"}`})
	}
	if err := e.svc.Append(ctx, acctA, "/aws/cleanrooms", "membership-1", evs); err != nil {
		t.Fatal(err)
	}

	var filtered struct {
		Events []struct {
			LogStreamName, Message string
			Timestamp              int64
		} `json:"events"`
		NextToken *string `json:"nextToken"`
	}
	// --page-size 1 makes the CLI follow nextToken through every event.
	if err := json.Unmarshal(run(acctA, "filter-log-events", "--log-group-name", "/aws/cleanrooms", "--page-size", "1"), &filtered); err != nil {
		t.Fatal(err)
	}
	if len(filtered.Events) != 4 || filtered.Events[3].Message != `{"eventId":"q1","status":"FAILED"}` ||
		filtered.Events[0].LogStreamName != "membership-1" || filtered.Events[0].Timestamp != base.UnixMilli() {
		t.Fatalf("filter-log-events: %+v", filtered)
	}
	if err := json.Unmarshal(run(acctA, "filter-log-events", "--log-group-name", "/aws/cleanrooms",
		"--filter-pattern", `{ $.status = "STARTED" }`), &filtered); err != nil {
		t.Fatal(err)
	}
	if len(filtered.Events) != 2 {
		t.Fatalf("filter-log-events with a pattern: %+v", filtered)
	}
	// Another account sees nothing of it.
	var groups struct {
		LogGroups []struct{ LogGroupName string } `json:"logGroups"`
	}
	if err := json.Unmarshal(run(acctB, "describe-log-groups"), &groups); err != nil {
		t.Fatal(err)
	}
	if len(groups.LogGroups) != 0 {
		t.Fatalf("account B sees %+v", groups)
	}

	// A member's own logs, written and read back with the CLI.
	run(acctB, "create-log-group", "--log-group-name", "/mine")
	run(acctB, "create-log-stream", "--log-group-name", "/mine", "--log-stream-name", "s")
	run(acctB, "put-log-events", "--log-group-name", "/mine", "--log-stream-name", "s", "--log-events",
		`timestamp=`+strings.TrimSpace(jsonNumber(base.UnixMilli()))+`,message=hello`)
	var got struct {
		Events []struct{ Message string } `json:"events"`
	}
	if err := json.Unmarshal(run(acctB, "get-log-events", "--log-group-name", "/mine", "--log-stream-name", "s", "--start-from-head"), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 1 || got.Events[0].Message != "hello" {
		t.Fatalf("get-log-events: %+v", got)
	}
	run(acctB, "delete-log-group", "--log-group-name", "/mine")
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
