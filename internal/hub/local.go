package hub

// The local hub: the `fabric serve` that commands on this machine share when
// no server is configured. It advertises itself in <state>/hub.json and owns
// the JetStream store under <state>/hub through a lock, so only one process
// ever writes the store. Local finds, locks and starts it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Files under the state directory.
const (
	LocalAdvertFile = "hub.json"
	LocalLockFile   = "hub.lock"
	LocalStoreDir   = "hub"
	LocalLogFile    = "hub.log"
)

// ErrLocked means another process owns the store.
var ErrLocked = errors.New("the local hub store is in use by another process")

// Advert is what a running local hub writes about itself.
type Advert struct {
	URL     string    `json:"url"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// Local are the files of one state directory.
type Local struct{ Dir string }

// Advert returns the advertisement file path.
func (p Local) Advert() string { return filepath.Join(p.Dir, LocalAdvertFile) }

// LockPath returns the lock file path.
func (p Local) LockPath() string { return filepath.Join(p.Dir, LocalLockFile) }

// Store returns the JetStream store directory.
func (p Local) Store() string { return filepath.Join(p.Dir, LocalStoreDir) }

// Log returns the log file of a spawned hub.
func (p Local) Log() string { return filepath.Join(p.Dir, LocalLogFile) }

// Publish writes the advertisement atomically.
func (p Local) Publish(a Advert) error {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("advertise hub: %w", err)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	tmp := p.Advert() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("advertise hub: %w", err)
	}
	if err := os.Rename(tmp, p.Advert()); err != nil {
		return fmt.Errorf("advertise hub: %w", err)
	}
	return nil
}

// Withdraw removes the advertisement if it is pid's.
func (p Local) Withdraw(pid int) {
	if a, err := p.read(); err == nil && a.PID == pid {
		_ = os.Remove(p.Advert())
	}
}

func (p Local) read() (*Advert, error) {
	b, err := os.ReadFile(p.Advert())
	if err != nil {
		return nil, err
	}
	var a Advert
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Advert(), err)
	}
	return &a, nil
}

// Discover returns the advertised hub if it is alive: its process exists
// and its port accepts a connection. A stale advertisement is removed.
func (p Local) Discover() (*Advert, bool) {
	a, err := p.read()
	if err != nil {
		return nil, false
	}
	if !processAlive(a.PID) || !reachable(a.URL) {
		p.Withdraw(a.PID)
		return nil, false
	}
	return a, true
}

func reachable(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return false
	}
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Spawn starts `exe args...` as a detached background process (its own
// session, output to the hub log) and waits until it advertises itself.
func (p Local) Spawn(ctx context.Context, exe string, args []string) (*Advert, error) {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("start local hub: %w", err)
	}
	logf, err := os.OpenFile(p.Log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start local hub: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start local hub: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if a, ok := p.Discover(); ok {
			return a, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("local hub exited at start (%v); see %s", err, p.Log())
		case <-deadline.C:
			return nil, fmt.Errorf("local hub did not come up within 15s; see %s", p.Log())
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}
