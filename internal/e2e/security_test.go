//go:build unix

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envFile reads a KEY=VALUE file as fabric init writes them.
func envFile(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			env = append(env, line)
		}
	}
	return env
}

// TestSecuredClusterFromInit: fabric init's setup, used as the README says:
// a TLS hub with roles, a node that runs only signed tasks, a front end
// that signs; and everyone else turned away with a reason.
func TestSecuredClusterFromInit(t *testing.T) {
	dir := t.TempDir()
	if out, errOut, code := fabric(t, nil, "init", "--dir", dir, "--tls"); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	hubProc := start(t, nil, bin.fabric, "serve", "--auth", filepath.Join(dir, "hub-auth.yaml"), "--listen", "127.0.0.1:0")
	url := hubProc.waitOutput(t, `hub listening on tls://(127\.0\.0\.1:\d+)`)
	server := "FABRIC_SERVER=tls://" + url
	nodeEnv := append(envFile(t, filepath.Join(dir, "node.env")), server)
	feEnv := append(envFile(t, filepath.Join(dir, "frontend.env")), server, "FABRIC_ACK_TIMEOUT=1")

	node := start(t, nodeEnv, bin.node, "--name", "secure-node", "--no-detect")
	node.waitOutput(t, "node running")

	out, errOut, code := fabric(t, feEnv, "run", "--", "echo over-tls-signed")
	if code != 0 || out != "over-tls-signed\n" {
		t.Fatalf("signed run: code %d, %q, %s", code, out, errOut)
	}

	// No credentials: the hub refuses the connection.
	_, errOut, code = fabric(t, []string{server, "FABRIC_TLS_CA=" + filepath.Join(dir, "ca.pem")}, "run", "--", "echo x")
	if code != 125 || !strings.Contains(strings.ToLower(errOut), "authorization violation") {
		t.Fatalf("anonymous: code %d, %s", code, errOut)
	}
	// A front end that does not sign: the node refuses the task.
	unsigned := withoutVar(feEnv, "FABRIC_SIGN_KEY")
	_, errOut, code = fabric(t, unsigned, "run", "--", "echo x")
	if code != 125 || !strings.Contains(errOut, "not signed") {
		t.Fatalf("unsigned: code %d, %s", code, errOut)
	}
	// Node credentials cannot submit tasks: the hub drops the publish.
	asNode := append(withoutVar(feEnv, "FABRIC_NKEY"), "FABRIC_NKEY="+filepath.Join(dir, "node.nk"))
	_, errOut, code = fabric(t, asNode, "run", "--", "echo x")
	if code != 125 {
		t.Fatalf("task from node credentials: code %d, %s", code, errOut)
	}
}

func withoutVar(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
