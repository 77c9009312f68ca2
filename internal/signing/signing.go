// Package signing signs tasks on the front end and verifies them on nodes,
// with ed25519 nkeys: a node configured with trusted public keys runs
// nothing unsigned, badly signed, signed by another key, older (or further
// in the future) than its window, or with a task id it has already run.
package signing

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fabric-run/fabric/internal/wire"
)

// DefaultWindow is how old a signed task may be (and how far in the future,
// for clock skew) before a node refuses it.
const DefaultWindow = 2 * time.Minute

// Errors from Verify and Admit, wrapped with detail.
var (
	ErrUnsigned     = errors.New("task is not signed")
	ErrUntrusted    = errors.New("task signed by an untrusted key")
	ErrBadSignature = errors.New("task signature does not verify")
	ErrExpired      = errors.New("task is outside the signing window")
	ErrReplayed     = errors.New("task id already run")
)

// Signer signs tasks with one key.
type Signer struct {
	kp  nkeys.KeyPair
	pub string
}

// NewSigner returns a Signer for an nkey seed ("SU...").
func NewSigner(seed []byte) (*Signer, error) {
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return &Signer{kp: kp, pub: pub}, nil
}

// LoadSigner reads an nkey seed file.
func LoadSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	s, err := NewSigner([]byte(strings.TrimSpace(string(b))))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// PublicKey returns the public key nodes must trust.
func (s *Signer) PublicKey() string { return s.pub }

// Sign sets t.Signer and t.Signature. Sign after every other field is final.
func (s *Signer) Sign(t *wire.Task) error {
	t.Signer = s.pub
	sig, err := s.kp.Sign(wire.SigningBytes(t))
	if err != nil {
		return fmt.Errorf("sign task %s: %w", t.ID, err)
	}
	t.Signature = sig
	return nil
}

// SignInput sets in.Sig: the signature of a piece of a signed task's
// standard input.
func (s *Signer) SignInput(in *wire.Input) error {
	sig, err := s.kp.Sign(wire.InputSigningBytes(in))
	if err != nil {
		return fmt.Errorf("sign input of task %s: %w", in.ID, err)
	}
	in.Sig = sig
	return nil
}

// Verifier checks tasks on a node. It is safe for concurrent use.
type Verifier struct {
	trusted map[string]nkeys.KeyPair
	window  time.Duration
	now     func() time.Time

	mu    sync.Mutex
	seen  map[string]time.Time // admitted task ids, until they leave the window
	swept time.Time            // when seen was last swept
}

// NewVerifier returns a Verifier trusting the given public keys ("U...").
// A zero window means DefaultWindow; now nil means time.Now.
func NewVerifier(keys []string, window time.Duration, now func() time.Time) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("signing: no trusted keys")
	}
	if window <= 0 {
		window = DefaultWindow
	}
	if now == nil {
		now = time.Now
	}
	v := &Verifier{trusted: map[string]nkeys.KeyPair{}, window: window, now: now, seen: map[string]time.Time{}}
	for _, k := range keys {
		kp, err := nkeys.FromPublicKey(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("signing: trusted key %q: %w", k, err)
		}
		v.trusted[strings.TrimSpace(k)] = kp
	}
	return v, nil
}

// Verify checks t's signature, signer and age. It does not record the task:
// call Admit when the node takes it.
func (v *Verifier) Verify(t *wire.Task) error {
	if t.Signer == "" || len(t.Signature) == 0 {
		return fmt.Errorf("%w: this node runs only tasks signed by a trusted front end", ErrUnsigned)
	}
	kp, ok := v.trusted[t.Signer]
	if !ok {
		return fmt.Errorf("%w (%s)", ErrUntrusted, t.Signer)
	}
	if err := kp.Verify(wire.SigningBytes(t), t.Signature); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	now := v.now()
	if age := now.Sub(t.Submitted); age > v.window || age < -v.window {
		return fmt.Errorf("%w: submitted %s, now %s, window ±%s", ErrExpired,
			t.Submitted.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.window)
	}
	return nil
}

// VerifyInput checks a piece of the standard input of task t, which
// Verify accepted: it must be signed by t's signer.
func (v *Verifier) VerifyInput(t *wire.Task, in *wire.Input) error {
	kp, ok := v.trusted[t.Signer]
	if !ok {
		return fmt.Errorf("%w (%s)", ErrUntrusted, t.Signer)
	}
	if len(in.Sig) == 0 {
		return fmt.Errorf("%w: input of task %s at offset %d", ErrUnsigned, in.ID, in.Offset)
	}
	if in.ID != t.ID {
		return fmt.Errorf("%w: input for task %s sent to task %s", ErrBadSignature, in.ID, t.ID)
	}
	if err := kp.Verify(wire.InputSigningBytes(in), in.Sig); err != nil {
		return fmt.Errorf("%w: input of task %s at offset %d: %v", ErrBadSignature, in.ID, in.Offset, err)
	}
	return nil
}

// Admit records that the node takes task id, refusing an id it already
// took within the window.
func (v *Verifier) Admit(id string) error {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.Sub(v.swept) > v.window/4 {
		v.swept = now
		for k, at := range v.seen {
			if now.Sub(at) > 2*v.window { // such a task would be expired anyway
				delete(v.seen, k)
			}
		}
	}
	if _, dup := v.seen[id]; dup {
		return fmt.Errorf("%w: %s", ErrReplayed, id)
	}
	v.seen[id] = now
	return nil
}

// LoadTrusted reads trusted keys: each item is a public key or the path of
// a file with one key per line (# comments allowed).
func LoadTrusted(items []string) ([]string, error) {
	var keys []string
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		if nkeys.IsValidPublicUserKey(it) {
			keys = append(keys, it)
			continue
		}
		b, err := os.ReadFile(it)
		if err != nil {
			return nil, fmt.Errorf("trusted keys: %q is neither a public user key nor a readable file: %w", it, err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !nkeys.IsValidPublicUserKey(line) {
				return nil, fmt.Errorf("trusted keys: %s: %q is not a public user key", it, line)
			}
			keys = append(keys, line)
		}
	}
	return keys, nil
}
