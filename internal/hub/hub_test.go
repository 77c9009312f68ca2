package hub_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
)

func TestStartRandomPortAndClose(t *testing.T) {
	h, err := hub.Start(hub.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if !strings.HasPrefix(h.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("ClientURL = %q, want loopback", h.ClientURL())
	}
	nc, err := nats.Connect(h.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.MaxPayload(); got != hub.DefaultMaxPayload {
		t.Errorf("MaxPayload = %d, want %d", got, hub.DefaultMaxPayload)
	}
	addr := h.Addr().String()
	h.Close()
	h.Close() // safe twice
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("hub still accepts TCP after Close")
	}
}

func TestInProcessConnection(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{})
	nc := fabrictest.Connect(t, "", h.InProcess())
	sub, _ := nc.SubscribeSync("x")
	nc.Publish("x", []byte("hi"))
	if m, err := sub.NextMsg(2 * time.Second); err != nil || string(m.Data) != "hi" {
		t.Fatalf("NextMsg = %v, %v", m, err)
	}
}

func TestJetStream(t *testing.T) {
	h, err := hub.Start(hub.Config{JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if !h.Server().JetStreamEnabled() {
		t.Fatal("JetStream not enabled")
	}
	if _, err := hub.Start(hub.Config{JetStream: true}); err == nil {
		t.Fatal("JetStream without a store directory was accepted")
	}
}

func TestBadListen(t *testing.T) {
	for _, addr := range []string{"nonsense", "127.0.0.1:99999", "127.0.0.1:x"} {
		if _, err := hub.Start(hub.Config{Listen: addr}); err == nil {
			t.Errorf("hub.Start(Listen %q) succeeded", addr)
		}
	}
}

func TestPortInUseIsAnErrorNotAnExit(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = hub.Start(hub.Config{Listen: l.Addr().String()})
	if err == nil {
		t.Fatal("Start on a port in use succeeded")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("error %q does not say why", err)
	}
}

func TestDontListenServesInProcessOnly(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{DontListen: true})
	nc := fabrictest.Connect(t, "", h.InProcess())
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if h.Addr() != nil {
		t.Fatalf("listening on %v", h.Addr())
	}
}

// TestDeadClientIsDropped: a client that stops answering pings (its machine
// vanished) is dropped after two intervals, and its subscriptions with it.
func TestDeadClientIsDropped(t *testing.T) {
	h := fabrictest.StartHub(t, hub.Config{PingInterval: 100 * time.Millisecond})
	c, err := net.Dial("tcp", h.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A client that connects and subscribes, then goes silent: it reads
	// (so the server's writes succeed) but never answers PING.
	if _, err := c.Write([]byte("CONNECT {\"verbose\":false}\r\nSUB x 1\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("server still holds a client that answers no pings after 5 s")
			}
			break // closed by the server
		}
	}
	t.Logf("silent client dropped after %s", time.Since(start).Round(time.Millisecond))
	fabrictest.Eventually(t, 5*time.Second, "the silent client unregistered once its connection closed", func() bool {
		return h.Server().NumClients() == 0
	})
}
