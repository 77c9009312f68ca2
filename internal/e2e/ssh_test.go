//go:build unix

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fabric-run/fabric/internal/fabrictest"
)

// TestSSHInventoryThroughTheCLI: a config file lists an SSH-only machine
// (the test's real loopback sshd); fabric lists it via ssh and runs on it.
func TestSSHInventoryThroughTheCLI(t *testing.T) {
	sshd := fabrictest.StartSSHD(t, fabrictest.SSHDOptions{})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "fabric.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`nodes:
  - name: nas
    host: 127.0.0.1
    port: %d
    identity_file: %s
    os: linux
    arch: amd64
    capabilities: [raid]
`, sshd.Port, sshd.ClientKey)), 0o600)
	env := []string{"FABRIC_CONFIG=" + cfg, "FABRIC_KNOWN_HOSTS=" + filepath.Join(dir, "known_hosts"), "SSH_AUTH_SOCK="}

	out, errOut, code := fabric(t, env, "nodes")
	if code != 0 || !strings.Contains(out, "nas") || !strings.Contains(out, "ssh") {
		t.Fatalf("nodes: code %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = fabric(t, env, "run", "-x", "--cap", "raid", "--", "echo on-nas")
	if code != 0 || out != "on-nas\n" || !strings.Contains(errOut, "fabric: nas: exit 0") || !strings.Contains(errOut, "via ssh") {
		t.Fatalf("run: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	known, _ := os.ReadFile(filepath.Join(dir, "known_hosts"))
	if !strings.Contains(string(known), fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 ", sshd.Port)) {
		t.Fatalf("known_hosts = %q", known)
	}

	// A bad entry fails at start with the file, line and reason.
	os.WriteFile(cfg, []byte("nodes:\n  - name: nas\n    host: 127.0.0.1\n    port: 99999\n"), 0o600)
	_, errOut, code = fabric(t, env, "nodes")
	if code != 1 || !strings.Contains(errOut, "fabric.yaml:4:") || !strings.Contains(errOut, "port") {
		t.Fatalf("bad inventory: code %d, %s", code, errOut)
	}
}
