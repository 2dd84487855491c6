//go:build auditfwd_testhooks

package spool

import (
	"os"
	"path/filepath"
	"time"
)

// testHold is a hook of test builds only (go build -tags auditfwd_testhooks;
// internal/testenv builds the binary the integration tests run that way):
// with AUDITFWD_TEST_HOLD naming a directory, the returned function waits
// while a file named point exists in it, and shows that it waits by
// creating point.waiting, so that a test can kill the daemon at a chosen
// place: after a post and before the sync ("sync"), or after the sync and
// before the cursor is written ("cursor"). Production builds have no such
// hook (testhook_off.go).
func testHold(point string) func() {
	dir := os.Getenv("AUDITFWD_TEST_HOLD")
	if dir == "" {
		return nil
	}
	hold, waiting := filepath.Join(dir, point), filepath.Join(dir, point+".waiting")
	return func() {
		if _, err := os.Stat(hold); err != nil {
			return
		}
		os.WriteFile(waiting, nil, 0o600)
		for {
			if _, err := os.Stat(hold); err != nil {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		os.Remove(waiting)
	}
}
