package tasks

import (
	"testing"

	"github.com/fabric-run/fabric/internal/fabrictest"
)

// TestMain fails the run if goroutines outlive the tests: every watch,
// waiter, connection and hub the tests start must be gone by the end.
func TestMain(m *testing.M) { fabrictest.Main(m) }
