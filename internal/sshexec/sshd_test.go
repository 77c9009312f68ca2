package sshexec

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// testSSHD is a real OpenSSH sshd on a loopback port, with a host key and
// an authorized client key of its own, run by the test.
type testSSHD struct {
	t          testing.TB
	dir        string
	Port       int
	HostKeys   []ssh.Signer // ed25519 first
	ClientKey  string       // path of the authorized private key
	ClientPub  ssh.PublicKey
	configPath string
	logPath    string
	cmd        *exec.Cmd
	exited     chan struct{}
}

type sshdOptions struct {
	ecdsaHostKey bool // also serve an ECDSA host key (Go asks for it first)
}

// startSSHD starts sshd for the test and stops it (and every process it
// started) when the test ends. It skips the test, loudly, when sshd is not
// installed.
func startSSHD(t testing.TB, opts sshdOptions) *testSSHD {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skip("SKIPPING: sshd not installed: apt-get install openssh-server (the sshexec tests run a real OpenSSH sshd on loopback)")
	}
	if os.Geteuid() == 0 {
		// sshd running as root needs its privilege separation directory,
		// which the distribution's service unit normally creates.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("create sshd's privilege separation directory: %v", err)
		}
	}
	s := &testSSHD{t: t, dir: t.TempDir()}
	s.HostKeys = append(s.HostKeys, s.writeKey("host_ed25519", newEd25519(t)))
	if opts.ecdsaHostKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s.HostKeys = append(s.HostKeys, s.writeKey("host_ecdsa", k))
	}
	s.ClientKey = filepath.Join(s.dir, "client_ed25519")
	client := s.writeKey("client_ed25519", newEd25519(t))
	s.ClientPub = client.PublicKey()
	s.write("authorized_keys", ssh.MarshalAuthorizedKey(s.ClientPub))
	s.logPath = filepath.Join(s.dir, "sshd.log")
	t.Cleanup(s.stop)
	var lastErr error
	for range 3 {
		s.Port = freePort(t)
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("start sshd: %v\nlog:\n%s", lastErr, s.Log())
	return nil
}

func newEd25519(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeKey writes a private key in OpenSSH format (mode 0600, as sshd
// insists) and returns its signer.
func (s *testSSHD) writeKey(name string, key any) ssh.Signer {
	s.t.Helper()
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		s.t.Fatal(err)
	}
	s.write(name, pem.EncodeToMemory(block))
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		s.t.Fatal(err)
	}
	return signer
}

func (s *testSSHD) write(name string, data []byte) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), data, 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start writes the config and starts sshd, returning once it answers with
// an SSH banner.
func (s *testSSHD) start() error {
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "Port %d\nListenAddress 127.0.0.1\n", s.Port)
	for _, name := range []string{"host_ed25519", "host_ecdsa"} {
		if _, err := os.Stat(filepath.Join(s.dir, name)); err == nil {
			fmt.Fprintf(&cfg, "HostKey %s\n", filepath.Join(s.dir, name))
		}
	}
	fmt.Fprintf(&cfg, "PidFile %s\nAuthorizedKeysFile %s\n", filepath.Join(s.dir, "sshd.pid"), filepath.Join(s.dir, "authorized_keys"))
	cfg.WriteString("PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n" +
		"KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nLogLevel VERBOSE\nMaxSessions 10\n" +
		"PrintMotd no\nAcceptEnv none\n" +
		// bash sources ~/.bashrc when sshd starts it at shell level 1; this
		// machine's root .bashrc runs pyenv init, which takes seconds, and
		// a test killing a session in it leaves pyenv's lock file behind.
		// Starting one level up keeps the tests off the user's rc files.
		"SetEnv SHLVL=1\n")
	s.configPath = filepath.Join(s.dir, "sshd_config")
	s.write("sshd_config", []byte(cfg.String()))

	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", s.configPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func(exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(s.exited)
	if err := s.waitReady(10 * time.Second); err != nil {
		s.kill()
		return err
	}
	return nil
}

// waitReady polls the port until sshd sends its banner.
func (s *testSSHD) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "SSH-2.0-") {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("sshd exited at start")
		case <-tick.C:
		}
	}
	return fmt.Errorf("sshd did not answer on %s within %v", s.Addr(), limit)
}

// Addr is sshd's address.
func (s *testSSHD) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Host is sshd as a Host.
func (s *testSSHD) Host() Host { return Host{Name: "testhost", Host: "127.0.0.1", Port: s.Port} }

// Log returns what sshd logged so far.
func (s *testSSHD) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// Accepted counts the connections sshd authenticated.
func (s *testSSHD) Accepted() int { return strings.Count(s.Log(), "Accepted publickey for ") }

// Restart stops sshd and every connection it serves, then starts it again
// on the same port with the same keys.
func (s *testSSHD) Restart() {
	s.t.Helper()
	s.kill()
	if err := s.start(); err != nil {
		s.t.Fatalf("restart sshd: %v\nlog:\n%s", err, s.Log())
	}
}

// KillConnections kills sshd's per-connection processes (and what runs under
// them), leaving the listener up: every client connection drops.
func (s *testSSHD) KillConnections() {
	for _, pid := range descendants(s.cmd.Process.Pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// ConnectionPIDs returns the per-connection sshd processes (children of the
// listener).
func (s *testSSHD) ConnectionPIDs() []int {
	return children(s.cmd.Process.Pid)
}

func (s *testSSHD) kill() {
	if s.cmd == nil {
		return
	}
	pid := s.cmd.Process.Pid
	all := descendants(pid)
	syscall.Kill(-pid, syscall.SIGKILL) // sshd and what stayed in its group
	for _, p := range all {
		syscall.Kill(p, syscall.SIGCONT)
		syscall.Kill(p, syscall.SIGKILL)
	}
	<-s.exited
	s.cmd = nil
}

func (s *testSSHD) stop() { s.kill() }

// children lists the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := procStat(p); ok && st.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// descendants lists every process under pid.
func descendants(pid int) []int {
	var out []int
	for queue := children(pid); len(queue) > 0; {
		p := queue[0]
		queue = append(queue[1:], children(p)...)
		out = append(out, p)
	}
	return out
}

type procInfo struct{ ppid, pgid int }

// procStat reads a process's parent and process group from /proc.
func procStat(pid int) (procInfo, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}, false
	}
	// The command name is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 {
		return procInfo{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgid, _ := strconv.Atoi(f[2])
	return procInfo{ppid: ppid, pgid: pgid}, true
}

// groupMembers lists the live processes of process group pgid.
func groupMembers(pgid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := procStat(p); ok && st.pgid == pgid && !isZombie(p) {
			out = append(out, p)
		}
	}
	return out
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] == "Z"
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
