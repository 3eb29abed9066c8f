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
