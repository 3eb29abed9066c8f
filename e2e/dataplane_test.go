package e2e

import "testing"

// TestDataPlaneBoto3 runs dataplane_workflow_test.py, two accounts' S3,
// Glue and Clean Rooms data-plane workflow with boto3, against a dev-mode
// server.
func TestDataPlaneBoto3(t *testing.T) {
	t.Parallel()
	python := requirePython(t)
	dev := startServer(t, "dataplane")
	runPython(t, python, "dataplane_workflow_test.py", map[string]string{
		"CLEANROOMSD_ENDPOINT": dev.endpoint,
	})
	dev.stop(t)
}

// TestDataPlaneCLI runs dataplane_cli_test.py, the data-plane workflow and a
// protected query with `aws s3`, `aws glue` and `aws cleanrooms`, against a
// dev-mode server.
func TestDataPlaneCLI(t *testing.T) {
	t.Parallel()
	python := requirePython(t)
	awsCLI := requireAWSCLI(t)
	dev := startServer(t, "dataplane-cli")
	runPython(t, python, "dataplane_cli_test.py", map[string]string{
		"CLEANROOMSD_ENDPOINT": dev.endpoint,
		"CLEANROOMSD_AWS_CLI":  awsCLI,
	})
	dev.stop(t)
}

// TestProtectedQueries runs protected_query_test.py in two processes at
// once: the queries part against a dev-mode server, and the restart part,
// which starts, kills and restarts servers of its own (CLEANROOMSD_BIN) and
// spends most of its time waiting for a dead runner's lease to lapse.
func TestProtectedQueries(t *testing.T) {
	t.Parallel()
	python := requirePython(t)
	t.Run("queries", func(t *testing.T) {
		t.Parallel()
		dev := startServer(t, "protected-queries")
		runPython(t, python, "protected_query_test.py", map[string]string{
			"CLEANROOMSD_ENDPOINT": dev.endpoint,
			"CLEANROOMSD_PQ_PART":  "queries",
		})
		dev.stop(t)
	})
	t.Run("restart", func(t *testing.T) {
		t.Parallel()
		runPython(t, python, "protected_query_test.py", map[string]string{
			"CLEANROOMSD_PQ_PART": "restart",
		})
	})
}

// TestPrivacyBoto3 runs privacy_test.py: the three classes of attack on the
// privacy promise, each run in two collaborations that differ only in data
// the rules hide, with boto3, against a dev-mode server.
func TestPrivacyBoto3(t *testing.T) {
	t.Parallel()
	python := requirePython(t)
	dev := startServer(t, "privacy")
	runPython(t, python, "privacy_test.py", map[string]string{
		"CLEANROOMSD_ENDPOINT": dev.endpoint,
	})
	dev.stop(t)
}
