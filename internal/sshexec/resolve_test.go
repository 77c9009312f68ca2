//go:build unix

package sshexec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// fakeResolver answers from a table and counts the questions. It is the
// Resolver injection point: tests never reach a real resolver.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   map[string]int
}

func (r *fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = make(map[string]int)
	}
	r.calls[host]++
	if a, ok := r.answers[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (r *fakeResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

func TestResolveCache(t *testing.T) {
	fr := &fakeResolver{answers: map[string][]string{"nas.fabric.test": {"127.0.0.5", "127.0.0.6"}}}
	now := time.Unix(1000, 0)
	cfg := Config{Resolver: fr, ResolveTTL: time.Minute, ConnectTimeout: time.Second}
	cfg, _ = cfg.withDefaults()
	c := newResolveCache(&cfg)
	c.now = func() time.Time { return now }
	ctx := context.Background()

	tests := []struct {
		name    string
		host    Host
		advance time.Duration
		want    []string
		lookups int // of nas.fabric.test, in all so far
	}{
		{"IP literal needs no lookup", Host{Host: "127.0.0.9", Addresses: []string{"127.0.0.8"}}, 0, []string{"127.0.0.9", "127.0.0.8"}, 0},
		{"name, then fallback, without repeats", Host{Host: "nas.fabric.test", Addresses: []string{"127.0.0.6", "127.0.0.7"}}, 0,
			[]string{"127.0.0.5", "127.0.0.6", "127.0.0.7"}, 1},
		{"cached within the TTL", Host{Host: "nas.fabric.test"}, 59 * time.Second, []string{"127.0.0.5", "127.0.0.6"}, 1},
		{"looked up again after the TTL", Host{Host: "nas.fabric.test"}, 2 * time.Second, []string{"127.0.0.5", "127.0.0.6"}, 2},
		{"unknown name with fallback", Host{Host: "gone.fabric.test", Addresses: []string{"127.0.0.7"}}, 0, []string{"127.0.0.7"}, 2},
	}
	for _, tt := range tests {
		now = now.Add(tt.advance)
		got, err := c.addrs(ctx, tt.host)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: addrs(%+v) = %v, %v; want %v", tt.name, tt.host, got, err, tt.want)
		}
		if n := fr.count("nas.fabric.test"); n != tt.lookups {
			t.Errorf("%s: %d lookups of nas.fabric.test, want %d", tt.name, n, tt.lookups)
		}
	}

	c.forget("nas.fabric.test")
	c.addrs(ctx, Host{Host: "nas.fabric.test"})
	if n := fr.count("nas.fabric.test"); n != 3 {
		t.Errorf("after forget: %d lookups, want 3", n)
	}
	_, err := c.addrs(ctx, Host{Host: "gone.fabric.test"})
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !strings.Contains(err.Error(), "lookup gone.fabric.test") {
		t.Errorf("unknown name without fallback: err = %v, want a lookup error", err)
	}
	if n := fr.count("gone.fabric.test"); n != 2 {
		t.Errorf("failed lookups were cached: %d lookups of gone.fabric.test, want 2", n)
	}

	noCache := newResolveCache(&Config{Resolver: fr, ResolveTTL: -1, ConnectTimeout: time.Second, Logger: cfg.Logger})
	noCache.addrs(ctx, Host{Host: "nas.fabric.test"})
	noCache.addrs(ctx, Host{Host: "nas.fabric.test"})
	if n := fr.count("nas.fabric.test"); n != 5 {
		t.Errorf("with a negative TTL: %d lookups, want 5 (no caching)", n)
	}
}

func TestRunResolvesNameThenFallback(t *testing.T) {
	sshd := startSSHD(t, sshdOptions{})
	fr := &fakeResolver{answers: map[string][]string{
		// sshd listens on 127.0.0.1 only: 127.0.0.3 refuses.
		"nas.fabric.test": {"127.0.0.3"},
	}}
	cfg := sshd.testConfig(t)
	cfg.Resolver = fr
	cfg.Retries = 0
	p := newTestPool(t, cfg)
	ctx := context.Background()

	h := Host{Name: "nas", Host: "nas.fabric.test", Addresses: []string{"127.0.0.1"}, Port: sshd.Port}
	res, err := p.Run(ctx, h, &wire.Task{Command: "echo via fallback"}, nil)
	if err != nil || res.Stdout != "via fallback\n" {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	st := onlyStats(t, p)
	if st.Addr != sshd.Addr() || st.Failures != 0 {
		t.Errorf("Stats: Addr %s, Failures %d; want %s in the first attempt", st.Addr, st.Failures, sshd.Addr())
	}
	if got := readFile(t, cfg.KnownHostsFile); !strings.HasPrefix(got, fmt.Sprintf("[nas.fabric.test]:%d ", sshd.Port)) {
		t.Errorf("known_hosts records %q, want the host's name, not the address used", got)
	}

	// The answer is reused for a redial within the TTL.
	sshd.KillConnections()
	if res := run(t, p, h, &wire.Task{Command: "true"}); res.ExitCode != 0 {
		t.Fatalf("Run after redial: %+v", res)
	}
	if n := fr.count("nas.fabric.test"); n != 1 {
		t.Errorf("%d lookups for two connections within the TTL, want 1", n)
	}

	// A name that does not resolve, with a fallback, connects.
	h2 := Host{Name: "lost", Host: "lost.fabric.test", Addresses: []string{"127.0.0.1"}, Port: sshd.Port}
	if res := run(t, p, h2, &wire.Task{Command: "true"}); res.ExitCode != 0 {
		t.Errorf("Run via fallback of an unresolvable name: %+v", res)
	}
	// Every address refusing: the error names the host and what was tried.
	fr.mu.Lock()
	fr.answers["down.fabric.test"] = []string{"127.0.0.3"}
	fr.mu.Unlock()
	h4 := Host{Name: "down", Host: "down.fabric.test", Addresses: []string{"127.0.0.4"}, Port: sshd.Port}
	_, err = p.Run(ctx, h4, &wire.Task{Command: "true"}, nil)
	want4 := fmt.Sprintf("ssh down (down.fabric.test:%[1]d at 127.0.0.3:%[1]d, 127.0.0.4:%[1]d): connect: connection refused (1 attempt)", sshd.Port)
	if !errors.Is(err, ErrUnreachable) || err.Error() != want4 {
		t.Errorf("Run with every address refusing = %v, want %s", err, want4)
	}
	// Without one, it fails with ErrResolve.
	h3 := Host{Name: "nope", Host: "nope.fabric.test", Port: sshd.Port}
	_, err = p.Run(ctx, h3, &wire.Task{Command: "true"}, nil)
	want := fmt.Sprintf("ssh nope (nope.fabric.test:%d): resolve: no such host", sshd.Port)
	if !errors.Is(err, ErrResolve) || err.Error() != want {
		t.Errorf("Run on an unresolvable host = %v, want ErrResolve: %s", err, want)
	}
}
