package hub

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

func TestLockIsExclusive(t *testing.T) {
	p := Local{Dir: t.TempDir()}
	l, err := p.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Acquire(); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire err = %v, want ErrLocked", err)
	}
	l.Release()
	l.Release()
	l2, err := p.Acquire()
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}

func TestDiscover(t *testing.T) {
	p := Local{Dir: t.TempDir()}
	if _, ok := p.Discover(); ok {
		t.Fatal("discovered a hub in an empty directory")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	live := Advert{URL: "nats://" + l.Addr().String(), PID: os.Getpid(), Started: time.Now()}
	if err := p.Publish(live); err != nil {
		t.Fatal(err)
	}
	if a, ok := p.Discover(); !ok || a.URL != live.URL {
		t.Fatalf("Discover = %+v, %v", a, ok)
	}
	// A dead process's advertisement is stale and removed.
	if err := p.Publish(Advert{URL: live.URL, PID: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Discover(); ok {
		t.Fatal("discovered a hub whose process is gone")
	}
	if _, err := os.Stat(p.Advert()); !os.IsNotExist(err) {
		t.Fatalf("stale advertisement not removed: %v", err)
	}
}

func TestSpawnReportsEarlyExit(t *testing.T) {
	p := Local{Dir: t.TempDir()}
	_, err := p.Spawn(t.Context(), "/bin/sh", []string{"-c", "echo broken >&2; exit 3"})
	if err == nil {
		t.Fatal("Spawn of a failing program succeeded")
	}
	b, _ := os.ReadFile(p.Log())
	if string(b) != "broken\n" {
		t.Fatalf("log = %q", b)
	}
}
