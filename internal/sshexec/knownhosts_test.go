//go:build unix

package sshexec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/fabric-run/fabric/internal/wire"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUnknownHostIsRecorded(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	cfg := sshd.testConfig(t)
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "new-dir", "known_hosts")
	p := newTestPool(t, cfg)
	run(t, p, sshd.Host(), &wire.Task{Command: "true"})

	want := knownhosts.Line([]string{sshd.Addr()}, sshd.HostKeys[0].PublicKey()) + "\n"
	if got := readFile(t, cfg.KnownHostsFile); got != want {
		t.Errorf("known_hosts =\n  %q\nwant\n  %q", got, want)
	}
	if !strings.HasPrefix(want, fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 ", sshd.Port)) {
		t.Errorf("recorded line %q does not name [127.0.0.1]:%d", want, sshd.Port)
	}
	if st, err := os.Stat(filepath.Dir(cfg.KnownHostsFile)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("known_hosts directory: %v, mode %v; want 0700", err, st.Mode().Perm())
	}

	// A new pool reading the same file knows the host: nothing is added.
	p2 := newTestPool(t, cfg)
	run(t, p2, sshd.Host(), &wire.Task{Command: "true"})
	if got := readFile(t, cfg.KnownHostsFile); got != want {
		t.Errorf("known_hosts after a second pool =\n  %q\nwant it unchanged", got)
	}
}

func TestRecordingKeepsOtherLines(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	cfg := sshd.testConfig(t)
	other := "[127.0.0.1]:1 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshd.ClientPub)))
	os.WriteFile(cfg.KnownHostsFile, []byte("# mine\n"+other), 0o600) // no final newline
	p := newTestPool(t, cfg)
	run(t, p, sshd.Host(), &wire.Task{Command: "true"})
	want := "# mine\n" + other + "\n" + knownhosts.Line([]string{sshd.Addr()}, sshd.HostKeys[0].PublicKey()) + "\n"
	if got := readFile(t, cfg.KnownHostsFile); got != want {
		t.Errorf("known_hosts =\n  %q\nwant\n  %q", got, want)
	}
}

func TestChangedHostKeyIsRefused(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	cfg := sshd.testConfig(t)
	oldKey, err := ssh.NewPublicKey(newEd25519(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	contents := "# known hosts\n" + knownhosts.Line([]string{sshd.Addr()}, oldKey) + "\n"
	os.WriteFile(cfg.KnownHostsFile, []byte(contents), 0o600)
	p := newTestPool(t, cfg)

	_, err = p.Run(context.Background(), sshd.Host(), &wire.Task{Command: "touch /tmp/should-not-run"}, nil)
	if !errors.Is(err, ErrHostKeyChanged) {
		t.Fatalf("Run = %v, want ErrHostKeyChanged", err)
	}
	var hke *HostKeyError
	if !errors.As(err, &hke) || len(hke.Known) != 1 {
		t.Fatalf("error %v is not a *HostKeyError with the known key", err)
	}
	offered := ssh.FingerprintSHA256(sshd.HostKeys[0].PublicKey())
	for _, want := range []string{offered, ssh.FingerprintSHA256(oldKey), cfg.KnownHostsFile + ":2", "verify host key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	var de *DialError
	if errors.As(err, &de) && de.Attempts != 1 {
		t.Errorf("host key refusal took %d attempts, want 1", de.Attempts)
	}
	if got := readFile(t, cfg.KnownHostsFile); got != contents {
		t.Errorf("known_hosts changed to %q", got)
	}
	if n := sshd.Accepted(); n != 0 {
		t.Errorf("sshd authenticated %d connections; the client must stop before authenticating", n)
	}
}

// TestRecordedKeyTypeIsAskedFor covers golang/go#49631: a server with
// ECDSA and ed25519 host keys, recorded by its ed25519 key (as OpenSSH
// records it). x/crypto/ssh asks for ECDSA first and would read the ECDSA
// key as a changed key.
func TestRecordedKeyTypeIsAskedFor(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{ECDSAHostKey: true})
	ed, ec := sshd.HostKeys[0].PublicKey(), sshd.HostKeys[1].PublicKey()

	t.Run("x/crypto defaults misread it", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "known_hosts")
		os.WriteFile(file, []byte(knownhosts.Line([]string{sshd.Addr()}, ed)+"\n"), 0o600)
		cb, err := knownhosts.New(file)
		if err != nil {
			t.Fatal(err)
		}
		signer := sshd.HostKeys[0] // any signer will do: the host key check fails first
		_, err = ssh.Dial("tcp", sshd.Addr(), &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: cb, Timeout: 5 * time.Second})
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) || len(ke.Want) == 0 {
			t.Errorf("plain x/crypto dial = %v; want the false key mismatch this test is about", err)
		}
	})
	for _, tc := range []struct {
		name     string
		recorded ssh.PublicKey
	}{{"recorded ed25519", ed}, {"recorded ecdsa", ec}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sshd.testConfig(t)
			line := knownhosts.Line([]string{sshd.Addr()}, tc.recorded) + "\n"
			os.WriteFile(cfg.KnownHostsFile, []byte(line), 0o600)
			p := newTestPool(t, cfg)
			run(t, p, sshd.Host(), &wire.Task{Command: "true"})
			if got := readFile(t, cfg.KnownHostsFile); got != line {
				t.Errorf("known_hosts = %q, want it unchanged", got)
			}
		})
	}
	t.Run("new host recorded by its ed25519 key", func(t *testing.T) {
		cfg := sshd.testConfig(t)
		p := newTestPool(t, cfg)
		run(t, p, sshd.Host(), &wire.Task{Command: "true"})
		if got, want := readFile(t, cfg.KnownHostsFile), knownhosts.Line([]string{sshd.Addr()}, ed)+"\n"; got != want {
			t.Errorf("known_hosts = %q, want %q (the key OpenSSH would record)", got, want)
		}
	})
}

func TestFirstContactsAppendWholeLines(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	names := []string{"a", "b", "c", "d", "e", "f"}
	res := &fakeResolver{answers: map[string][]string{}}
	for _, n := range names {
		res.answers[n+".fabric.test"] = []string{"127.0.0.1"}
	}
	cfg := sshd.testConfig(t)
	cfg.Resolver = res
	p := newTestPool(t, cfg)
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() {
			h := Host{Name: n, Host: n + ".fabric.test", Port: sshd.Port}
			if _, err := p.Run(context.Background(), h, &wire.Task{Command: "true"}, nil); err != nil {
				t.Errorf("Run on %s: %v", n, err)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(readFile(t, cfg.KnownHostsFile), "\n"), "\n")
	if len(lines) != len(names) {
		t.Fatalf("known_hosts has %d lines, want %d:\n%s", len(lines), len(names), strings.Join(lines, "\n"))
	}
	for _, n := range names {
		want := knownhosts.Line([]string{net.JoinHostPort(n+".fabric.test", fmt.Sprint(sshd.Port))}, sshd.HostKeys[0].PublicKey())
		found := 0
		for _, l := range lines {
			if l == want {
				found++
			}
		}
		if found != 1 {
			t.Errorf("line %q appears %d times, want once", want, found)
		}
	}
}
