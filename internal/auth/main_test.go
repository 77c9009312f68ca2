package auth

import (
	"testing"

	"github.com/fabric-run/fabric/internal/fabrictest"
)

func TestMain(m *testing.M) { fabrictest.Main(m) }
