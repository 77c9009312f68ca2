package sshexec

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHosts checks host keys against a known_hosts file with OpenSSH's
// accept-new semantics. The file is read afresh for every check (knownhosts
// callbacks are snapshots) and appends are serialised. Safe for concurrent
// use by one pool; other writers (ssh itself) append whole lines too.
type knownHosts struct {
	path string
	log  *slog.Logger
	mu   sync.Mutex
}

// preferredHostKeyAlgos returns the order in which host key algorithms are
// asked for when a host is not in known_hosts yet: OpenSSH's, ed25519 first,
// so that the key recorded is the one ssh itself would record. (x/crypto/ssh
// asks for ECDSA first by default.)
func preferredHostKeyAlgos() []string {
	return []string{
		ssh.KeyAlgoED25519,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
	}
}

// db returns a callback over the file's current contents; a file that does
// not exist yet is an empty database.
func (k *knownHosts) db() (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(k.path)
	if errors.Is(err, fs.ErrNotExist) {
		return knownhosts.New()
	}
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	return cb, nil
}

// probeKey returns a key no host has: checking it against the database
// yields every key recorded for a host (see algorithms).
func probeKey() ssh.PublicKey {
	pub, _ := ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
	return pub
}

// algorithms returns the host key algorithms to ask hostport's server for:
// those of the keys already recorded for it, so that the server does not
// offer a key of another type that would read as a changed key
// (golang/go#49631); OpenSSH's order for a new host.
func (k *knownHosts) algorithms(hostport string) ([]string, error) {
	k.mu.Lock()
	cb, err := k.db()
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var ke *knownhosts.KeyError
	if err := cb(hostport, fakeAddr{}, probeKey()); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return preferredHostKeyAlgos(), nil
	}
	var algos []string
	add := func(a ...string) {
		for _, x := range a {
			if !slices.Contains(algos, x) {
				algos = append(algos, x)
			}
		}
	}
	for _, want := range ke.Want {
		switch t := want.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos, nil
}

// check verifies key as hostport's host key: known keys pass, a new host
// is recorded, a changed (or revoked) key is a *HostKeyError.
func (k *knownHosts) check(hostport string, key ssh.PublicKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	cb, err := k.db()
	if err != nil {
		return err
	}
	err = cb(hostport, fakeAddr{}, key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return &HostKeyError{Host: knownhosts.Normalize(hostport), Offered: key, Revoked: &re.Revoked}
	case errors.As(err, &ke) && len(ke.Want) > 0:
		return &HostKeyError{Host: knownhosts.Normalize(hostport), Offered: key, Known: ke.Want}
	case errors.As(err, &ke):
		if err := k.appendLine(knownhosts.Line([]string{hostport}, key)); err != nil {
			return err
		}
		k.log.Info("ssh: recorded a new host key", "host", knownhosts.Normalize(hostport),
			"key", key.Type()+" "+ssh.FingerprintSHA256(key), "file", k.path)
		return nil
	default:
		return fmt.Errorf("known_hosts: %w", err)
	}
}

// appendLine adds line to the file, creating it (and its directory, 0700)
// if need be; k.mu is held.
func (k *knownHosts) appendLine(line string) error {
	if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	f, err := os.OpenFile(k.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	defer f.Close()
	// Start on a line of our own if the file does not end with one.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil || errors.Is(err, io.EOF) {
			if last[0] != '\n' {
				line = "\n" + line
			}
		}
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		return fmt.Errorf("known_hosts: append: %w", err)
	}
	return f.Close()
}

// fakeAddr stands for the remote address in checks, which always name the
// host (knownhosts prefers the name given and ignores the address then).
type fakeAddr struct{}

func (fakeAddr) Network() string { return "tcp" }
func (fakeAddr) String() string  { return net.JoinHostPort("0.0.0.0", "0") }
