package sshexec

import (
	"testing"

	"github.com/fabric-run/fabric/internal/fabrictest"
)

// TestMain fails the run if goroutines outlive the tests: every pooled
// connection, keepalive, session, probe and machine must be gone by the end.
func TestMain(m *testing.M) { fabrictest.Main(m) }
