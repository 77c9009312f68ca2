package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/feed"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/wire"
)

// startJSHub starts a hub with JetStream, for locks.
func startJSHub(t testing.TB) *hub.Hub {
	t.Helper()
	return fabrictest.StartHub(t, hub.Config{JetStream: true})
}

// openLocks opens the lock store over a connection of its own, with the
// lease of a 1 s heartbeat.
func openLocks(t testing.TB, h *hub.Hub) *locks.Store {
	t.Helper()
	lease, renew := locks.LeaseFor(time.Second)
	s, err := locks.Open(context.Background(), fabrictest.Connect(t, h.ClientURL()), locks.Config{Lease: lease, Renew: renew})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// client is a fabric front end reduced to one task: it sends the task with
// a reply inbox of its own, answers the node's flow control and (with
// feed set) its requests for input, and hands over the rest by kind.
type client struct {
	t    *testing.T
	nc   *nats.Conn
	sub  *nats.Subscription
	msgs chan *nats.Msg
	feed *feed.Sender
}

func newClient(t *testing.T, h *hub.Hub) *client {
	t.Helper()
	c := &client{t: t, nc: fabrictest.Connect(t, h.ClientURL()), msgs: make(chan *nats.Msg, 1024)}
	sub, err := c.nc.ChanSubscribe(c.nc.NewRespInbox(), c.msgs)
	if err != nil {
		t.Fatal(err)
	}
	c.sub = sub
	return c
}

// send offers task to node n1.
func (c *client) send(task *wire.Task) {
	c.t.Helper()
	msg, err := wire.NewMsg("fabric.task.linux.amd64.any.n1", task)
	if err != nil {
		c.t.Fatal(err)
	}
	msg.Reply = c.sub.Subject
	if err := c.nc.PublishMsg(msg); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next message of kind, answering and skipping others.
func (c *client) next(kind wire.Kind) *nats.Msg {
	c.t.Helper()
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case m := <-c.msgs:
			k := wire.KindOf(m)
			switch {
			case k == kind:
				return m
			case k == wire.KindChunk && m.Reply != "":
				_ = m.Respond(nil)
			case k == wire.KindInputWant && c.feed != nil:
				if err := c.feed.Want(m); err != nil {
					c.t.Error(err)
				}
			}
		case <-timeout.C:
			c.t.Fatalf("no %s message within a minute", kind)
		}
	}
}

func (c *client) ack() wire.Ack {
	c.t.Helper()
	var a wire.Ack
	if err := wire.Decode(c.next(wire.KindAck), &a); err != nil {
		c.t.Fatal(err)
	}
	return a
}

func (c *client) progress() wire.Progress {
	c.t.Helper()
	var p wire.Progress
	if err := wire.Decode(c.next(wire.KindProgress), &p); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func (c *client) result() wire.Result {
	c.t.Helper()
	var r wire.Result
	if err := wire.Decode(c.next(wire.KindResult), &r); err != nil {
		c.t.Fatal(err)
	}
	return r
}
