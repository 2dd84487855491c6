package main

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

// TestOpsFiles runs scripts/check-ops.sh: promtool on the alert rules and
// their unit tests, the Grafana dashboard's queries, install.sh into a
// DESTDIR, systemd-analyze verify, and the unit's security exposure ≤ 2.0.
func TestOpsFiles(t *testing.T) {
	t.Parallel()
	testenv.Binary(t) // the script builds too; fail early on a broken build
	for _, tool := range []string{"promtool", "systemd-analyze"} {
		lookTool(t, tool)
	}
	root := testenv.ModuleRoot(t)
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "check-ops.sh"))
	cmd.Dir = root
	res, err := cmd.CombinedOutput()
	t.Logf("%s", res)
	if err != nil {
		t.Fatalf("check-ops.sh: %v", err)
	}
}
