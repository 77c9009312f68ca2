package sshexec

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keyFile is a private key file as read: a signer, or for a key encrypted
// with a passphrase, its public half where it can be had (so that the agent's
// copy can stand in for it).
type keyFile struct {
	path      string
	signer    ssh.Signer
	encrypted bool
	public    ssh.PublicKey // of an encrypted key; nil if unknown
}

// readKeyFile reads a private key file.
func readKeyFile(path string) (*keyFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	var pme *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return &keyFile{path: path, signer: signer}, nil
	case errors.As(err, &pme):
		kf := &keyFile{path: path, encrypted: true, public: pme.PublicKey}
		if kf.public == nil {
			if pub, perr := os.ReadFile(path + ".pub"); perr == nil {
				kf.public, _, _, _, _ = ssh.ParseAuthorizedKey(pub)
			}
		}
		return kf, nil
	default:
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
}

// authenticator gathers the keys to offer: the agent's, then key files. It
// keeps the key files it has read. Safe for concurrent use.
type authenticator struct {
	agentSocket string
	log         *slog.Logger

	mu    sync.Mutex
	files map[string]*keyFile // by path, read once
	order []string            // the pool's identity files, in order
}

// newAuthenticator reads the pool's identity files: listed files must exist
// and be keys; with none listed, the OpenSSH defaults that exist are used.
func newAuthenticator(cfg *Config) (*authenticator, error) {
	a := &authenticator{agentSocket: cfg.AgentSocket, log: cfg.Logger, files: make(map[string]*keyFile)}
	paths, explicit := cfg.IdentityFiles, cfg.IdentityFiles != nil
	if !explicit {
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if p := homePath(".ssh", name); p != "" {
				paths = append(paths, p)
			}
		}
	}
	for _, p := range paths {
		kf, err := readKeyFile(p)
		if err != nil {
			if !explicit && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("sshexec: %w", err)
		}
		a.files[p] = kf
		a.order = append(a.order, p)
	}
	return a, nil
}

// keyring is what one handshake offers.
type keyring struct {
	signers []ssh.Signer
	agent   net.Conn // closed after the handshake
	// unusable lists encrypted key files whose key the agent does not hold,
	// to explain a failed authentication.
	unusable []string
}

func (k *keyring) close() {
	if k.agent != nil {
		k.agent.Close()
	}
}

// explain says what to do about the keys that could not be used.
func (k *keyring) explain() string {
	if len(k.unusable) == 0 {
		return ""
	}
	return fmt.Sprintf("identity file %s is encrypted with a passphrase and its key is not in ssh-agent (load it with: ssh-add %s)",
		strings.Join(k.unusable, ", "), k.unusable[0])
}

// keys returns the keys to offer for a host: the host's own identity file
// first, then the agent's keys, then the pool's files. Every key goes into
// one PublicKeysCallback, since x/crypto/ssh tries the "publickey" method
// only once per connection.
func (a *authenticator) keys(hostIdentity string) (*keyring, error) {
	k := &keyring{}
	var agentKeys []ssh.Signer
	if a.agentSocket != "" {
		conn, err := net.Dial("unix", a.agentSocket)
		if err != nil {
			a.log.Warn("ssh: cannot reach ssh-agent; using key files only", "socket", a.agentSocket, "err", err)
		} else {
			k.agent = conn
			agentKeys, err = agent.NewClient(conn).Signers()
			if err != nil {
				a.log.Warn("ssh: ssh-agent would not list its keys", "socket", a.agentSocket, "err", err)
			}
		}
	}
	seen := make(map[string]bool)
	add := func(s ssh.Signer) {
		blob := string(s.PublicKey().Marshal())
		if !seen[blob] {
			seen[blob] = true
			k.signers = append(k.signers, s)
		}
	}
	addFile := func(path string) error {
		kf, err := a.file(path)
		if err != nil {
			return err
		}
		switch {
		case !kf.encrypted:
			add(kf.signer)
		case inAgent(agentKeys, kf.public):
			// The agent's copy is offered with the agent's keys.
		default:
			k.unusable = append(k.unusable, kf.path)
		}
		return nil
	}
	if hostIdentity != "" {
		if err := addFile(hostIdentity); err != nil {
			k.close()
			return nil, err
		}
	}
	for _, s := range agentKeys {
		add(s)
	}
	for _, p := range a.order {
		if err := addFile(p); err != nil {
			k.close()
			return nil, err
		}
	}
	if len(k.signers) == 0 {
		k.close()
		if why := k.explain(); why != "" {
			return nil, errors.New(why)
		}
		return nil, errors.New("no key to offer: no ssh-agent (SSH_AUTH_SOCK) and no identity file")
	}
	return k, nil
}

// inAgent reports whether pub is among the agent's keys.
func inAgent(agentKeys []ssh.Signer, pub ssh.PublicKey) bool {
	if pub == nil {
		return false
	}
	for _, s := range agentKeys {
		if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			return true
		}
	}
	return false
}

// file returns the key file at path, reading it the first time.
func (a *authenticator) file(path string) (*keyFile, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if kf, ok := a.files[path]; ok {
		return kf, nil
	}
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	a.files[path] = kf
	return kf, nil
}
