package cli

import (
	"errors"
	"slices"
	"testing"

	"github.com/fabric-run/fabric/internal/guard"
	"github.com/fabric-run/fabric/internal/wire"
)

// TestGuardAllowEnv: FABRIC_GUARD_ALLOW_ENV reaches the node's policy, over
// the config file's allow_env, and lets a task set what it names.
func TestGuardAllowEnv(t *testing.T) {
	env := map[string]string{"FABRIC_GUARD_ALLOW_ENV": "LD_LIBRARY_PATH,BASH_ENV"}
	s, err := loadSettings(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	p := policy(guard.Policy{AllowEnv: []string{"LD_PRELOAD"}}, s.Guard)
	if !slices.Equal(p.AllowEnv, []string{"LD_LIBRARY_PATH", "BASH_ENV"}) {
		t.Fatalf("policy AllowEnv = %q", p.AllowEnv)
	}
	g, err := guard.New(p)
	if err != nil {
		t.Fatal(err)
	}
	node := guard.Node{Home: "/home/n"}
	if err := g.CheckOn(&node, &wire.Task{Command: "make", Env: map[string]string{"LD_LIBRARY_PATH": "/opt/lib"}}); err != nil {
		t.Errorf("LD_LIBRARY_PATH allowed by FABRIC_GUARD_ALLOW_ENV: %v", err)
	}
	if err := g.CheckOn(&node, &wire.Task{Command: "make", Env: map[string]string{"LD_PRELOAD": "/x.so"}}); !errors.Is(err, guard.ErrRefused) {
		t.Errorf("LD_PRELOAD, allowed only by the file the environment overrides: %v, want refused", err)
	}
	if p := policy(guard.Policy{AllowEnv: []string{"LD_PRELOAD"}}, guard.Policy{}); !slices.Equal(p.AllowEnv, []string{"LD_PRELOAD"}) {
		t.Errorf("without the knob, the file's allow_env = %q", p.AllowEnv)
	}
}
