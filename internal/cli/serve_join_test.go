package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestServeJoinRefusals: the join settings are checked, from flags and
// from the environment, before anything listens.
func TestServeJoinRefusals(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		err  string
	}{
		{"routes without listen", nil, []string{"--routes", "nats-route://b:6222"}, "--cluster-name and --routes need --cluster-listen"},
		{"routes from env without listen", map[string]string{"FABRIC_ROUTES": "nats-route://b:6222"}, nil, "need --cluster-listen"},
		{"listen without routes", nil, []string{"--cluster-listen", "127.0.0.1:0"}, "--cluster-listen needs --routes"},
		{"cluster beyond loopback", map[string]string{"FABRIC_CLUSTER_LISTEN": "0.0.0.0:6222"}, []string{"--routes", "nats-route://b:6222"}, "--cluster-listen: refusing to listen on 0.0.0.0:6222 without authentication"},
		{"leaf beyond loopback", nil, []string{"--leaf-listen", ":7422"}, "--leaf-listen: refusing to listen on :7422"},
		{"bad route", nil, []string{"--cluster-listen", "127.0.0.1:0", "--routes", "b:6222"}, "want nats-route://HOST:PORT"},
		{"bad leaf remote", map[string]string{"FABRIC_LEAF_REMOTES": "http://x:1"}, nil, "want nats-leaf://HOST:PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"FABRIC_STATE_DIR": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			var stderr bytes.Buffer
			stdio := IO{Stdout: &stderr, Stderr: &stderr, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
			args := append([]string{"serve", "--listen", "127.0.0.1:0"}, tt.args...)
			// The refusals come before serving; should one not, the
			// cancelled context stops the hub at once.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			code := Run(ctx, args, stdio)
			if code != ExitError || !strings.Contains(stderr.String(), tt.err) {
				t.Fatalf("serve %q: exit %d, stderr %q; want exit 1 and %q", tt.args, code, stderr.String(), tt.err)
			}
		})
	}
}
