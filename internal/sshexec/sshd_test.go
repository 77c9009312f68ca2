//go:build unix

package sshexec

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/fabrictest"
)

// testSSHD is a real sshd for these tests (see fabrictest), seen as a Host.
type testSSHD struct{ *fabrictest.SSHD }

type sshdOptions = fabrictest.SSHDOptions

func startSSHD(t testing.TB, opts sshdOptions) *testSSHD {
	return &testSSHD{fabrictest.StartSSHD(t, opts)}
}

// Host is sshd as a Host.
func (s *testSSHD) Host() Host { return Host{Name: "testhost", Host: "127.0.0.1", Port: s.Port} }

var (
	newEd25519  = fabrictest.NewEd25519
	freePort    = fabrictest.FreePort
	procStat    = fabrictest.ProcStat
	descendants = fabrictest.Descendants
)

// groupMembers lists the live processes of process group pgid.
func groupMembers(pgid int) []int {
	var out []int
	for p, st := range fabrictest.Processes() {
		if st.PGID == pgid && st.State != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// testConfig is a pool config for s: its client key, a known_hosts file of
// the test's own, no agent, quick retries, and the test's log.
func (s *testSSHD) testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "known_hosts")
	cfg.IdentityFiles = []string{s.ClientKey}
	cfg.AgentSocket = ""
	cfg.RetryBackoff = 50 * time.Millisecond
	cfg.Logger = testLogger(t)
	return cfg
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newTestPool returns a pool closed when the test ends.
func newTestPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// waitFor polls cond until it holds or limit passes.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		<-tick.C
	}
}
