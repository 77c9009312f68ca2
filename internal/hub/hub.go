// Package hub runs an embedded NATS server: the bus of a one-machine fabric,
// or the long-lived hub of a cluster (`fabric serve`); and finds, locks and
// starts the local hub that commands on one machine share (Local).
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// DefaultMaxPayload is the largest message the embedded hub accepts: room for
// a result carrying 1 MiB of each output stream. NATS's own default is 1 MB.
const DefaultMaxPayload = 8 << 20

// DefaultListen is where a hub listens unless told otherwise: loopback only,
// NATS's standard port.
const DefaultListen = "127.0.0.1:4222"

// ServePingInterval is the PingInterval of a long-lived hub (fabric serve):
// a vanished client is dropped within 20 to 30 seconds.
const ServePingInterval = 10 * time.Second

// ReadyTimeout bounds how long Start waits for the server to accept clients.
const ReadyTimeout = 10 * time.Second

// Config configures a Hub. The zero value listens on a random loopback port
// with JetStream off.
type Config struct {
	// Listen is host:port to listen on. Empty means 127.0.0.1 on a random
	// port; port 0 also means random.
	Listen string
	// Name is the server's name, which must be unique within a NATS
	// cluster or leaf node system (JetStream tells its peers apart by it)
	// and should stay the same across restarts. Empty means the server's
	// generated id, which changes on every start.
	Name string
	// Cluster makes the hub one server of a NATS cluster (routes).
	Cluster ClusterConfig
	// Leaf connects the hub to a larger NATS system as a leaf node, or
	// accepts leaf nodes.
	Leaf LeafConfig
	// DontListen serves in-process clients only (InProcess), with no TCP
	// listener at all: for a one-shot embedded fabric.
	DontListen bool
	// JetStream enables JetStream, storing under StoreDir.
	JetStream bool
	// StoreDir is where JetStream keeps its files (in <StoreDir>/jetstream).
	// Required with JetStream.
	StoreDir string
	// MaxPayload is the largest message accepted; zero means DefaultMaxPayload.
	MaxPayload int32
	// PingInterval is how often the server pings each client; a client
	// that leaves two pings unanswered is dropped with its subscriptions.
	// Zero means NATS's default (2 minutes), under which a client whose
	// machine vanished (power, cable, sleep) keeps its subscriptions, and
	// a share of its queue group's messages, for up to 6 minutes.
	PingInterval time.Duration
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// Configure, if set, adjusts the server options last (authentication,
	// TLS): see internal/auth.
	Configure func(*server.Options) error
}

// Hub is a running embedded NATS server.
type Hub struct {
	srv       *server.Server
	closeOnce sync.Once
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Hub, error) {
	opts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	lg := newLogger(cfg.Logger)
	// The server's debug lines (clients connecting and closing, with why)
	// only when asked for: it does not even format them otherwise.
	srv.SetLoggerV2(lg, lg.l.Enabled(context.Background(), slog.LevelDebug), false, false)
	go srv.Start()
	if err := waitReady(srv, lg); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, err
	}
	if cfg.JetStream && !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("hub: JetStream did not start: %w", lg.fatalOr("no reason given"))
	}
	return &Hub{srv: srv}, nil
}

// waitReady waits for the server to accept clients, returning early with the
// server's own fatal error (a port in use, say) instead of the full timeout.
func waitReady(srv *server.Server, lg *logger) error {
	deadline := time.Now().Add(ReadyTimeout)
	for time.Now().Before(deadline) {
		if srv.ReadyForConnections(50 * time.Millisecond) {
			return nil
		}
		if err := lg.fatalOr(""); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
	}
	return fmt.Errorf("hub: not ready to accept connections within %s", ReadyTimeout)
}

func (cfg Config) options() (*server.Options, error) {
	host, port := "127.0.0.1", server.RANDOM_PORT
	if cfg.Listen != "" {
		h, n, err := hostPort("listen", cfg.Listen)
		if err != nil {
			return nil, err
		}
		if h != "" {
			host = h
		}
		port = n
	}
	if cfg.JetStream && cfg.StoreDir == "" {
		return nil, errors.New("hub: JetStream needs a store directory")
	}
	mp := cfg.MaxPayload
	if mp == 0 {
		mp = DefaultMaxPayload
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       host,
		Port:       port,
		MaxPayload: mp,
		JetStream:  cfg.JetStream,
		StoreDir:   cfg.StoreDir,
		DontListen: cfg.DontListen,
		NoSigs:     true, // the process owns its signals, not the embedded server
		NoLog:      cfg.Logger == nil,
	}
	if cfg.PingInterval > 0 {
		opts.PingInterval, opts.MaxPingsOut = cfg.PingInterval, 2
	}
	if err := cfg.applyJoin(opts); err != nil {
		return nil, err
	}
	if cfg.Configure != nil {
		if err := cfg.Configure(opts); err != nil {
			return nil, fmt.Errorf("hub: %w", err)
		}
	}
	return opts, nil
}

// ClientURL returns the nats:// URL clients connect to.
func (h *Hub) ClientURL() string { return h.srv.ClientURL() }

// Addr returns the address the server listens on.
func (h *Hub) Addr() net.Addr { return h.srv.Addr() }

// Server returns the underlying server, for monitoring and tests.
func (h *Hub) Server() *server.Server { return h.srv }

// InProcess returns the option that connects a client to this hub in process,
// without TCP.
func (h *Hub) InProcess() nats.Option { return nats.InProcessServer(h.srv) }

// Close shuts the server down and waits for it to finish. Safe to call twice.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		h.srv.Shutdown()
		h.srv.WaitForShutdown()
	})
}

// logger adapts the server's logging to slog and, unlike the server's own
// logger, never exits the process on a fatal error: it remembers it so Start
// can return it.
type logger struct {
	l  *slog.Logger
	mu sync.Mutex
	fe error
}

func newLogger(l *slog.Logger) *logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &logger{l: l.With("component", "nats-server")}
}

// fatalOr returns the fatal error logged so far or, if none, an error saying
// orElse (nil when orElse is empty).
func (l *logger) fatalOr(orElse string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fe == nil && orElse != "" {
		return errors.New(orElse)
	}
	return l.fe
}

func (l *logger) Noticef(format string, v ...any) { l.l.Info(fmt.Sprintf(format, v...)) }
func (l *logger) Warnf(format string, v ...any)   { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l *logger) Errorf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l *logger) Debugf(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l *logger) Tracef(format string, v ...any)  {}
func (l *logger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.l.Error(msg, "fatal", true)
	l.mu.Lock()
	if l.fe == nil {
		l.fe = errors.New(msg)
	}
	l.mu.Unlock()
}
