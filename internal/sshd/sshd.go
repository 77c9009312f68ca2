// Package sshd starts a real OpenSSH sshd on a loopback port, with a host
// key and an authorized client key of its own, a log to read, and ways to
// restart it or cut its connections: for tests (through fabrictest) and for
// the benchmarks of the SSH path.
package sshd

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// Server is a real OpenSSH sshd on a loopback port, with a host key and
// an authorized client key of its own.
type Server struct {
	// Dir holds the keys, config and log.
	Dir        string
	Port       int
	HostKeys   []ssh.Signer // ed25519 first
	ClientKey  string       // path of the authorized private key
	ClientPub  ssh.PublicKey
	configPath string
	logPath    string
	cmd        *exec.Cmd
	exited     chan struct{}
}

// Options shape a Server.
type Options struct {
	// ECDSAHostKey also serves an ECDSA host key (Go asks for it first).
	ECDSAHostKey bool
}

// ErrNotInstalled is returned when sshd is not installed.
var ErrNotInstalled = errors.New("sshd not installed: apt-get install openssh-server")

// Start starts sshd with its files in dir (which must exist). Stop it with
// Stop.
func Start(dir string, opts Options) (*Server, error) {
	if _, err := os.Stat(sshdPath); err != nil {
		return nil, ErrNotInstalled
	}
	if os.Geteuid() == 0 {
		// sshd running as root needs its privilege separation directory,
		// which the distribution's service unit normally creates.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, fmt.Errorf("create sshd's privilege separation directory: %w", err)
		}
	}
	s := &Server{Dir: dir}
	hostKey, err := NewEd25519()
	if err != nil {
		return nil, err
	}
	signer, err := s.writeKey("host_ed25519", hostKey)
	if err != nil {
		return nil, err
	}
	s.HostKeys = append(s.HostKeys, signer)
	if opts.ECDSAHostKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		signer, err := s.writeKey("host_ecdsa", k)
		if err != nil {
			return nil, err
		}
		s.HostKeys = append(s.HostKeys, signer)
	}
	s.ClientKey = filepath.Join(s.Dir, "client_ed25519")
	clientKey, err := NewEd25519()
	if err != nil {
		return nil, err
	}
	client, err := s.writeKey("client_ed25519", clientKey)
	if err != nil {
		return nil, err
	}
	s.ClientPub = client.PublicKey()
	if err := s.WriteFile("authorized_keys", ssh.MarshalAuthorizedKey(s.ClientPub)); err != nil {
		return nil, err
	}
	s.logPath = filepath.Join(s.Dir, "sshd.log")
	var lastErr error
	for range 3 {
		if s.Port, lastErr = FreePort(); lastErr != nil {
			return nil, lastErr
		}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("start sshd: %w\nlog:\n%s", lastErr, s.Log())
}

// NewEd25519 returns a new ed25519 private key.
func NewEd25519() (ed25519.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	return k, err
}

// writeKey writes a private key in OpenSSH format (mode 0600, as sshd
// insists) and returns its signer.
func (s *Server) writeKey(name string, key any) (ssh.Signer, error) {
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return nil, err
	}
	if err := s.WriteFile(name, pem.EncodeToMemory(block)); err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(key)
}

// WriteFile writes a file (mode 0600) into the server's directory.
func (s *Server) WriteFile(name string, data []byte) error {
	return os.WriteFile(filepath.Join(s.Dir, name), data, 0o600)
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start writes the config and starts sshd, returning once it answers with
// an SSH banner.
func (s *Server) start() error {
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "Port %d\nListenAddress 127.0.0.1\n", s.Port)
	for _, name := range []string{"host_ed25519", "host_ecdsa"} {
		if _, err := os.Stat(filepath.Join(s.Dir, name)); err == nil {
			fmt.Fprintf(&cfg, "HostKey %s\n", filepath.Join(s.Dir, name))
		}
	}
	fmt.Fprintf(&cfg, "PidFile %s\nAuthorizedKeysFile %s\n", filepath.Join(s.Dir, "sshd.pid"), filepath.Join(s.Dir, "authorized_keys"))
	cfg.WriteString("PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n" +
		"KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nLogLevel VERBOSE\nMaxSessions 10\n" +
		"PrintMotd no\nAcceptEnv none\n" +
		// bash sources ~/.bashrc when sshd starts it at shell level 1; this
		// machine's root .bashrc runs pyenv init, which takes seconds, and
		// a test killing a session in it leaves pyenv's lock file behind.
		// Starting one level up keeps the tests off the user's rc files.
		"SetEnv SHLVL=1\n")
	s.configPath = filepath.Join(s.Dir, "sshd_config")
	if err := s.WriteFile("sshd_config", []byte(cfg.String())); err != nil {
		return err
	}

	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", s.configPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = ownGroup()
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
func (s *Server) waitReady(limit time.Duration) error {
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
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Log returns what sshd logged so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// Accepted counts the connections sshd authenticated.
func (s *Server) Accepted() int { return strings.Count(s.Log(), "Accepted publickey for ") }

// Restart stops sshd and every connection it serves, then starts it again
// on the same port with the same keys.
func (s *Server) Restart() error {
	s.kill()
	if err := s.start(); err != nil {
		return fmt.Errorf("restart sshd: %w\nlog:\n%s", err, s.Log())
	}
	return nil
}

// KillConnections kills sshd's per-connection processes (and what runs under
// them), leaving the listener up: every client connection drops.
func (s *Server) KillConnections() {
	for _, pid := range Descendants(s.cmd.Process.Pid) {
		killPID(pid)
	}
}

// ConnectionPIDs returns the per-connection sshd processes (children of the
// listener).
func (s *Server) ConnectionPIDs() []int {
	return childrenByParent()[s.cmd.Process.Pid]
}

func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	pid := s.cmd.Process.Pid
	all := Descendants(pid)
	killGroup(pid) // sshd and what stayed in its group
	for _, p := range all {
		resumeAndKill(p)
	}
	<-s.exited
	s.cmd = nil
}

// Stop kills sshd and everything it started.
func (s *Server) Stop() { s.kill() }

// Descendants lists every process under pid.
func Descendants(pid int) []int {
	kids := childrenByParent()
	var out []int
	for queue := kids[pid]; len(queue) > 0; {
		p := queue[0]
		queue = append(queue[1:], kids[p]...)
		out = append(out, p)
	}
	return out
}

// childrenByParent lists every process's children, by parent pid.
func childrenByParent() map[int][]int {
	kids := make(map[int][]int)
	for p, st := range Processes() {
		kids[st.PPID] = append(kids[st.PPID], p)
	}
	return kids
}

// ProcInfo is a process's parent, process group and state.
type ProcInfo struct {
	PPID, PGID int
	// State is the state letter of /proc/<pid>/stat: "R", "S", "Z" (a
	// zombie) ...
	State string
}

// Processes reads every process's ProcInfo from /proc, by pid.
func Processes() map[int]ProcInfo {
	procs := make(map[int]ProcInfo)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := ProcStat(p); ok {
			procs[p] = st
		}
	}
	return procs
}

// ProcStat reads a process's parent, process group and state from /proc.
func ProcStat(pid int) (ProcInfo, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcInfo{}, false
	}
	// The command name is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 {
		return ProcInfo{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgid, _ := strconv.Atoi(f[2])
	return ProcInfo{PPID: ppid, PGID: pgid, State: f[0]}, true
}
