package main

import (
	"os"
	"testing"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

// TestMain removes the auditfwd binary the integration tests built.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
