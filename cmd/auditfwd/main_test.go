package main

import (
	"flag"
	"testing"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

// TestMain runs the tests, then stops the shared PostgreSQL server and
// removes the auditfwd binary the integration tests built. The tests run
// in parallel (testenv.Parallel): each has its own daemon, fake Slack,
// ports, directories and database, and most of their time is spent
// waiting on them, not computing.
func TestMain(m *testing.M) {
	flag.Parse()
	testenv.Parallel()
	pg.Main(removingBinary{m})
}

// removingBinary runs the tests through testenv.Main.
type removingBinary struct{ m *testing.M }

func (r removingBinary) Run() int { return testenv.Main(r.m) }
