package dispatch

import (
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// inboxDepth is how many replies may wait for one task's reader. Nodes send
// at most a flow window of chunks before waiting, so this is never reached
// by a node that follows the protocol.
const inboxDepth = 256

// mux receives the replies of every task on one wildcard subscription and
// hands each to the task it belongs to.
type mux struct {
	prefix string // "_INBOX.xxx."
	sub    *nats.Subscription

	mu      sync.Mutex
	inboxes map[string]*inbox
}

type inbox struct {
	token string // unique: also names the offer the inbox answers for
	reply string
	ch    chan *nats.Msg
	done  chan struct{}
}

func newMux(nc *nats.Conn) (*mux, error) {
	m := &mux{prefix: nc.NewInbox() + ".", inboxes: map[string]*inbox{}}
	sub, err := nc.Subscribe(m.prefix+"*", m.deliver)
	if err != nil {
		return nil, fmt.Errorf("dispatch: subscribe replies: %w", err)
	}
	if err := sub.SetPendingLimits(-1, 512<<20); err != nil {
		return nil, fmt.Errorf("dispatch: pending limits: %w", err)
	}
	m.sub = sub
	return m, nil
}

// open returns a new inbox, with its reply subject.
func (m *mux) open() *inbox {
	token := nuid.Next()
	in := &inbox{token: token, reply: m.prefix + token, ch: make(chan *nats.Msg, inboxDepth), done: make(chan struct{})}
	m.mu.Lock()
	m.inboxes[token] = in
	m.mu.Unlock()
	return in
}

// close forgets in; late messages are dropped.
func (m *mux) close(in *inbox) {
	m.mu.Lock()
	_, open := m.inboxes[in.token]
	delete(m.inboxes, in.token)
	m.mu.Unlock()
	if open {
		close(in.done)
	}
}

func (m *mux) deliver(msg *nats.Msg) {
	token := strings.TrimPrefix(msg.Subject, m.prefix)
	m.mu.Lock()
	in := m.inboxes[token]
	m.mu.Unlock()
	if in == nil {
		return
	}
	select {
	case in.ch <- msg:
	case <-in.done:
	}
}

func (m *mux) stop() error {
	return m.sub.Unsubscribe()
}
