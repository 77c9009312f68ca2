// The leak check lives in the external test package: fabrictest imports
// worker.
package worker_test

import (
	"testing"

	"github.com/fabric-run/fabric/internal/fabrictest"
)

func TestMain(m *testing.M) { fabrictest.Main(m) }
