package fabrictest

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/fabric-run/fabric/internal/sshd"
)

// SSHDOptions shape an SSHD.
type SSHDOptions = sshd.Options

// ProcInfo is a process's parent, process group and state.
type ProcInfo = sshd.ProcInfo

// SSHD is a real OpenSSH sshd on a loopback port for one test (see package
// sshd), whose methods fail the test instead of returning errors.
type SSHD struct {
	*sshd.Server
	t testing.TB
}

// StartSSHD starts sshd for the test and stops it (and every process it
// started) when the test ends. Where sshd is not installed, the test skips
// loudly, or fails under CI (see Need).
func StartSSHD(t testing.TB, opts SSHDOptions) *SSHD {
	t.Helper()
	s, err := sshd.Start(t.TempDir(), opts)
	if errors.Is(err, sshd.ErrNotInstalled) {
		Need(t, "OpenSSH sshd (these tests run a real sshd on loopback)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return &SSHD{Server: s, t: t}
}

// WriteFile writes a file into the server's directory.
func (s *SSHD) WriteFile(name string, data []byte) {
	s.t.Helper()
	if err := s.Server.WriteFile(name, data); err != nil {
		s.t.Fatal(err)
	}
}

// Restart stops sshd and its connections and starts it again, same port
// and keys.
func (s *SSHD) Restart() {
	s.t.Helper()
	if err := s.Server.Restart(); err != nil {
		s.t.Fatal(err)
	}
}

// NewEd25519 returns a new ed25519 private key.
func NewEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	k, err := sshd.NewEd25519()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := sshd.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ProcStat reads a process's parent, process group and state from /proc.
func ProcStat(pid int) (ProcInfo, bool) { return sshd.ProcStat(pid) }

// Processes reads every process's ProcInfo from /proc, by pid.
func Processes() map[int]ProcInfo { return sshd.Processes() }

// Descendants lists every process under pid.
func Descendants(pid int) []int { return sshd.Descendants(pid) }
