//go:build unix

package sshexec

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/fabric-run/fabric/internal/wire"
)

// clientKeyConfig is a pool config with a key of its own (authorized
// nowhere) and a private known_hosts, for tests that need no sshd.
func clientKeyConfig(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "id_ed25519")
	block, err := ssh.MarshalPrivateKey(newEd25519(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.IdentityFiles = []string{path}
	cfg.AgentSocket = ""
	cfg.KnownHostsFile = filepath.Join(dir, "known_hosts")
	cfg.Logger = testLogger(t)
	return cfg
}

// maxBackoff is the most the backoff pauses of a full dial add up to.
func maxBackoff(cfg *Config) time.Duration {
	var total time.Duration
	for i := 1; i <= cfg.Retries; i++ {
		d := backoffBase(cfg, i)
		total += d/2 + d
	}
	return total
}

func TestRefusedPortFailsWithinRetryBudget(t *testing.T) {
	cfg := clientKeyConfig(t)
	cfg.ConnectTimeout = 2 * time.Second
	cfg.Retries = 2
	cfg.RetryBackoff = 250 * time.Millisecond
	p := newTestPool(t, cfg)
	port := freePort(t) // nothing listens there any more
	h := Host{Name: "nas", Host: "127.0.0.1", Port: port}

	start := time.Now()
	res, err := p.Run(context.Background(), h, &wire.Task{Command: "true"}, nil)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("Run on a refused port = %+v, nil; want an error", res)
	}
	want := fmt.Sprintf("ssh nas (127.0.0.1:%d): connect: connection refused (3 attempts)", port)
	if err.Error() != want {
		t.Errorf("error =\n  %v\nwant\n  %s", err, want)
	}
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("errors.Is(err, ErrUnreachable / ECONNREFUSED) = %v / %v, want true", errors.Is(err, ErrUnreachable), errors.Is(err, syscall.ECONNREFUSED))
	}
	// Two backoffs of 250 ms and 500 ms, each jittered ±50%.
	budget := cfg.ConnectTimeout*time.Duration(cfg.Retries+1) + maxBackoff(&p.cfg)
	if minBackoff := 375 * time.Millisecond; took < minBackoff || took > budget {
		t.Errorf("Run took %v; want at least the backoffs (%v) and at most %v", took, minBackoff, budget)
	}
	st := onlyStats(t, p)
	if st.Connected || st.Failures != 1 || st.LastError != want {
		t.Errorf("Stats = %+v; want not connected, 1 failure, LastError %q", st, want)
	}
}

func TestSilentServerHitsHandshakeTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // accept and say nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-accepted
		for _, c := range conns {
			c.Close()
		}
	})

	cfg := clientKeyConfig(t)
	cfg.HandshakeTimeout = 300 * time.Millisecond
	cfg.Retries = 1
	cfg.RetryBackoff = 50 * time.Millisecond
	p := newTestPool(t, cfg)
	port := l.Addr().(*net.TCPAddr).Port
	start := time.Now()
	_, err = p.Run(context.Background(), Host{Name: "silent", Host: "127.0.0.1", Port: port}, &wire.Task{Command: "true"}, nil)
	took := time.Since(start)
	want := fmt.Sprintf("ssh silent (127.0.0.1:%d): handshake: no SSH handshake within 300ms (2 attempts)", port)
	if err == nil || err.Error() != want {
		t.Errorf("error =\n  %v\nwant\n  %s", err, want)
	}
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("errors.Is(err, ErrUnreachable / os.ErrDeadlineExceeded) = false, want true")
	}
	if took < 600*time.Millisecond || took > 2*time.Second {
		t.Errorf("Run took %v, want two handshake timeouts (600ms) and a short backoff", took)
	}
	mu.Lock()
	n := len(conns)
	mu.Unlock()
	if n != 2 {
		t.Errorf("server saw %d connections, want 2", n)
	}
}

func TestWrongKeyIsNotRetried(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	cfg := clientKeyConfig(t) // a key sshd does not know
	p := newTestPool(t, cfg)
	_, err := p.Run(context.Background(), sshd.Host(), &wire.Task{Command: "true"}, nil)
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), ": authenticate: the server accepted none of the keys offered for user ") {
		t.Fatalf("Run with an unknown key = %v, want ErrAuth", err)
	}
	var de *DialError
	if !errors.As(err, &de) || de.Attempts != 1 {
		t.Errorf("DialError = %+v, want 1 attempt (authentication is not retried)", de)
	}
	waitFor(t, 5*time.Second, "sshd to log the failed authentication", func() bool {
		return strings.Contains(sshd.Log(), "Connection closed by authenticating user")
	})
	if n := strings.Count(sshd.Log(), "Connection closed by authenticating user"); n != 1 {
		t.Errorf("sshd saw %d failed authentications, want 1", n)
	}
}

// serveAgent runs an ssh-agent (x/crypto's keyring, over the real agent
// protocol) on a unix socket for the test, holding keys.
func serveAgent(t *testing.T, keys ...any) string {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, k := range keys {
		if err := keyring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				agent.ServeAgent(keyring, c)
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return sock
}

func TestAgentAndEncryptedKeys(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	key := newEd25519(t)
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	sshd.WriteFile("authorized_keys", ssh.MarshalAuthorizedKey(pub)) // only this key now
	block, err := ssh.MarshalPrivateKeyWithPassphrase(key, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted := filepath.Join(t.TempDir(), "id_encrypted")
	if err := os.WriteFile(encrypted, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("encrypted key without agent", func(t *testing.T) {
		cfg := sshd.testConfig(t)
		cfg.IdentityFiles = []string{encrypted}
		p := newTestPool(t, cfg)
		_, err := p.Run(context.Background(), sshd.Host(), &wire.Task{Command: "true"}, nil)
		if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), encrypted+" is encrypted") ||
			!strings.Contains(err.Error(), "ssh-add "+encrypted) {
			t.Errorf("Run = %v; want ErrAuth naming %s and ssh-add", err, encrypted)
		}
	})
	t.Run("encrypted key held by the agent", func(t *testing.T) {
		cfg := sshd.testConfig(t)
		cfg.IdentityFiles = []string{encrypted}
		cfg.AgentSocket = serveAgent(t, key)
		p := newTestPool(t, cfg)
		if res := run(t, p, sshd.Host(), &wire.Task{Command: "echo via agent"}); res.Stdout != "via agent\n" {
			t.Errorf("Run = %+v", res)
		}
	})
	t.Run("agent only", func(t *testing.T) {
		cfg := sshd.testConfig(t)
		cfg.IdentityFiles = []string{} // none, not even the defaults
		cfg.AgentSocket = serveAgent(t, newEd25519(t), key)
		p := newTestPool(t, cfg)
		if res := run(t, p, sshd.Host(), &wire.Task{Command: "echo via agent"}); res.Stdout != "via agent\n" {
			t.Errorf("Run = %+v", res)
		}
	})
	t.Run("host identity file", func(t *testing.T) {
		cfg := sshd.testConfig(t) // the pool's key is not authorized
		p := newTestPool(t, cfg)
		h := sshd.Host()
		h.IdentityFile = filepath.Join(t.TempDir(), "id")
		plain, _ := ssh.MarshalPrivateKey(key, "")
		os.WriteFile(h.IdentityFile, pem.EncodeToMemory(plain), 0o600)
		if res := run(t, p, h, &wire.Task{Command: "echo host key"}); res.Stdout != "host key\n" {
			t.Errorf("Run = %+v", res)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := clientKeyConfig(t)
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"negative retries", func(c *Config) { c.Retries = -1 }, "Retries -1 is negative"},
		{"negative timeout", func(c *Config) { c.ConnectTimeout = -time.Second }, "ConnectTimeout -1s is negative"},
		{"one session", func(c *Config) { c.MaxSessions = 1 }, "MaxSessions 1: need at least 2"},
		{"unknown shell", func(c *Config) { c.Shell = "zsh" }, `Shell "zsh"`},
		{"missing identity file", func(c *Config) { c.IdentityFiles = []string{"/nonexistent/id"} }, "/nonexistent/id"},
	} {
		cfg := good
		tc.change(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
