package signing

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fabric-run/fabric/internal/wire"
)

func newSigner(t *testing.T) *Signer {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	s, err := NewSigner(seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func task(now time.Time) *wire.Task {
	return &wire.Task{ID: "t1", Command: "make test", Env: map[string]string{"B": "2", "A": "1"}, Cwd: "/src",
		Timeout: wire.Duration(time.Minute), Requires: wire.Requirements{OS: "linux", Capabilities: []string{"docker"}}, Submitted: now}
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, other := newSigner(t), newSigner(t)
	v, err := NewVerifier([]string{s.PublicKey()}, time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(s *Signer, t0 *wire.Task) *wire.Task {
		if err := s.Sign(t0); err != nil {
			t.Fatal(err)
		}
		return t0
	}
	tests := []struct {
		name string
		task *wire.Task
		want error
	}{
		{"good", sign(s, task(now)), nil},
		{"unsigned", task(now), ErrUnsigned},
		{"untrusted key", sign(other, task(now)), ErrUntrusted},
		{"forged command", func() *wire.Task { x := sign(s, task(now)); x.Command = "rm -rf ~/src"; return x }(), ErrBadSignature},
		{"forged requirements", func() *wire.Task { x := sign(s, task(now)); x.Requires.Node = "other"; return x }(), ErrBadSignature},
		{"forged env", func() *wire.Task { x := sign(s, task(now)); x.Env["A"] = "9"; return x }(), ErrBadSignature},
		{"forged time", func() *wire.Task { x := sign(s, task(now)); x.Submitted = now.Add(time.Second); return x }(), ErrBadSignature},
		{"signer swapped", func() *wire.Task { x := sign(other, task(now)); x.Signer = s.PublicKey(); return x }(), ErrBadSignature},
		{"expired", sign(s, task(now.Add(-2*time.Minute))), ErrExpired},
		{"from the future", sign(s, task(now.Add(2*time.Minute))), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(tt.task)
			if (tt.want == nil && err != nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSigningBytesAreCanonical(t *testing.T) {
	now := time.Now()
	a, b := task(now), task(now)
	b.Env = map[string]string{"A": "1", "B": "2"} // same map, other insertion order
	if string(wire.SigningBytes(a)) != string(wire.SigningBytes(b)) {
		t.Fatal("equal tasks give different signing bytes")
	}
	c := task(now)
	c.Argv, c.Command = []string{"make test"}, ""
	if string(wire.SigningBytes(a)) == string(wire.SigningBytes(c)) {
		t.Fatal("command and argv tasks share signing bytes")
	}
}

func TestAdmitRefusesReplay(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	s := newSigner(t)
	v, _ := NewVerifier([]string{s.PublicKey()}, time.Minute, clock)
	if err := v.Admit("t1"); err != nil {
		t.Fatal(err)
	}
	if err := v.Admit("t1"); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second Admit = %v", err)
	}
	if err := v.Admit("t2"); err != nil {
		t.Fatal(err)
	}
	// Long after, the id is forgotten (a task that old fails Verify anyway).
	now = now.Add(3 * time.Minute)
	if err := v.Admit("t1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestLoadTrusted(t *testing.T) {
	a, b := newSigner(t), newSigner(t)
	f := filepath.Join(t.TempDir(), "trusted")
	os.WriteFile(f, []byte("# front ends\n"+b.PublicKey()+"\n\n"), 0o600)
	keys, err := LoadTrusted([]string{a.PublicKey(), f})
	if err != nil || len(keys) != 2 || keys[1] != b.PublicKey() {
		t.Fatalf("LoadTrusted = %v, %v", keys, err)
	}
	if _, err := LoadTrusted([]string{"not-a-key"}); err == nil {
		t.Fatal("garbage accepted")
	}
	if _, err := NewVerifier(nil, 0, nil); err == nil {
		t.Fatal("verifier with no keys")
	}
}
