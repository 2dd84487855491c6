package main

import (
	"testing"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

// TestMain runs the tests, then stops the shared PostgreSQL server and
// removes the auditfwd binary the integration tests built.
func TestMain(m *testing.M) { pg.Main(removingBinary{m}) }

// removingBinary runs the tests through testenv.Main.
type removingBinary struct{ m *testing.M }

func (r removingBinary) Run() int { return testenv.Main(r.m) }
