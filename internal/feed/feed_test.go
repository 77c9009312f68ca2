package feed

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/wire"
)

func TestMain(m *testing.M) { fabrictest.Main(m) }

// node is the node's end of one task's input: it asks with credit and
// reads the pieces.
type node struct {
	t     *testing.T
	nc    *nats.Conn
	inbox *nats.Subscription
}

func newNode(t *testing.T, nc *nats.Conn) *node {
	sub, err := nc.SubscribeSync(nc.NewInbox())
	if err != nil {
		t.Fatal(err)
	}
	return &node{t: t, nc: nc, inbox: sub}
}

// want builds the request a node sends for input up to credit.
func (n *node) want(id string, credit int64) *nats.Msg {
	m, err := wire.NewMsg("reply.of.task", &wire.InputWant{ID: id, Credit: credit})
	if err != nil {
		n.t.Fatal(err)
	}
	m.Reply = n.inbox.Subject
	return m
}

func (n *node) next(wait time.Duration) (*wire.Input, error) {
	m, err := n.inbox.NextMsg(wait)
	if err != nil {
		return nil, err
	}
	var in wire.Input
	if err := wire.Decode(m, &in); err != nil {
		n.t.Fatal(err)
	}
	return &in, nil
}

// TestSendsNoFurtherThanTheCredit: the sender reads and sends up to the
// credit, waits, and goes on with more; pieces are in order, the last
// marks the end.
func TestSendsNoFurtherThanTheCredit(t *testing.T) {
	nc := fabrictest.Connect(t, fabrictest.StartHub(t, hub.Config{}).ClientURL())
	n := newNode(t, nc)
	data := []byte(strings.Repeat("0123456789", 10))
	src := &countingReader{r: bytes.NewReader(data)}
	s := New(nc, "task", src, Config{Piece: 16})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	var runErr error
	wg.Go(func() { runErr = s.Run(ctx) })

	if err := s.Want(n.want("task", 40)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < 40 {
		in, err := n.next(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if in.Offset != int64(len(got)) || len(in.Data) > 16 || in.EOF {
			t.Fatalf("piece %+v after %d bytes", in, len(got))
		}
		got = append(got, in.Data...)
	}
	if _, err := n.next(200 * time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("a piece beyond the credit: %v", err)
	}
	if src.n > 40 {
		t.Fatalf("read %d bytes of the source with credit for 40", src.n)
	}
	if err := s.Want(n.want("task", 1000)); err != nil {
		t.Fatal(err)
	}
	for {
		in, err := n.next(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, in.Data...)
		if in.EOF {
			break
		}
	}
	wg.Wait()
	if runErr != nil || !bytes.Equal(got, data) || s.Sent() != int64(len(data)) {
		t.Fatalf("Run = %v; got %q", runErr, got)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestWantRefusesOtherTasksAndGarbage(t *testing.T) {
	s := New(nil, "task", bytes.NewReader(nil), Config{})
	m, _ := wire.NewMsg("x", &wire.InputWant{ID: "other", Credit: 10})
	m.Reply = "in"
	if err := s.Want(m); err == nil {
		t.Fatal("a want for another task was taken")
	}
	m, _ = wire.NewMsg("x", &wire.InputWant{ID: "task", Credit: 10})
	if err := s.Want(m); err == nil {
		t.Fatal("a want with nowhere to send was taken")
	}
	if err := s.Want(&nats.Msg{Data: []byte{0xc1}}); err == nil {
		t.Fatal("garbage taken as a want")
	}
}
