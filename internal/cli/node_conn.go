package cli

import (
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// Bounds of a node's keepalive ping interval.
const (
	minNodePing = time.Second
	maxNodePing = 30 * time.Second
)

// nodeConnOptions are the NATS options of a node beyond every client's. It
// retries a server that is not up yet, and it pings its server about once
// a heartbeat interval (within [1 s, 30 s]): a server that vanished without
// closing the connection (a host powered off, a cut cable, a NAT that
// forgot the flow) is then noticed after two unanswered pings, and the
// node reconnects, to the next URL when there are several, instead of
// writing into a dead connection for NATS's default four minutes.
func nodeConnOptions(heartbeat time.Duration, log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(func(nc *nats.Conn) { log.Info("connected to NATS", "url", nc.ConnectedUrlRedacted()) }),
		nats.PingInterval(min(max(heartbeat, minNodePing), maxNodePing)),
		nats.MaxPingsOutstanding(2),
	}
}
