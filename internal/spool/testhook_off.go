//go:build !auditfwd_testhooks

package spool

// testHold is a hook of test builds only (testhook_on.go).
func testHold(string) func() { return nil }
