// The leak check lives in the external test package: fabrictest imports
// the worker, which imports runner.
package runner_test

import (
	"testing"

	"github.com/fabric-run/fabric/internal/fabrictest"
)

func TestMain(m *testing.M) { fabrictest.Main(m) }
