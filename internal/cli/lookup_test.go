package cli

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name string
		node bool // fabric-node instead of fabric
		args []string
		err  string // "" = valid
	}{
		{"run", false, []string{"run", "--node", "n1", "--", "uname", "-a"}, ""},
		{"global flag first", false, []string{"--server", "nats://a:4222,nats://b:4222", "nodes", "--json"}, ""},
		{"alias", false, []string{"cluster-status"}, ""},
		{"serve clustered", false, []string{"serve", "--listen", "0.0.0.0:4222", "--insecure", "--cluster-listen", "0.0.0.0:6222", "--routes", "nats-route://b:6222"}, ""},
		{"node", false, []string{"node", "--caps", "docker,gpu", "--heartbeat", "300ms"}, ""},
		{"fabric-node", true, []string{"--server", "nats://hub:4222", "--caps", "gpu", "--slots", "4"}, ""},
		{"unknown command", false, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", false, []string{"run", "--bogus", "--", "ls"}, "unknown flag: --bogus"},
		{"bad value", true, []string{"--slots", "many"}, `invalid argument "many" for "--slots"`},
		{"missing command", false, []string{"run"}, "no command given: put it after --"},
		{"missing task id", false, []string{"status"}, "no task id given"},
		{"no args taken", true, []string{"extra"}, `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			look := func(args []string) error { return Lookup(args) }
			if tt.node {
				look = LookupNode
			}
			err := look(tt.args)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Lookup(%q) = %v, want nil", tt.args, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Lookup(%q) = %v, want an error containing %q", tt.args, err, tt.err)
			}
		})
	}
}
