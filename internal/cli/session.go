package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/worker"
)

// session is a connected front end: to the configured servers, or to an
// embedded hub with a local node in process.
type session struct {
	fe      *frontend.Frontend
	nc      *nats.Conn
	hub     *hub.Hub       // embedded only
	node    *worker.Worker // embedded only
	nodeNC  *nats.Conn
	servers string // for messages: the URLs or "embedded"
}

// connectOptions are the NATS options every fabric client uses.
func (a *app) connectOptions(name string, log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Error("NATS error", "subject", subj, "err", err)
		}),
	}
}

// connect dials the configured servers.
func (a *app) connect(ctx context.Context, name string, log *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	urls := strings.Join(a.settings.Servers, ",")
	opts := append(a.connectOptions(name, log), extra...)
	opts = append(opts, nats.Timeout(a.settings.StatusTimeout))
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", urls, err)
	}
	return nc, nil
}

// openSession connects a front end. With no server configured it starts an
// embedded hub (in process, no TCP listener) and a local node.
func (a *app) openSession(ctx context.Context, log *slog.Logger) (*session, error) {
	s := &session{}
	feCfg := frontend.Config{
		Subjects:       &a.settings.subjects,
		Thresholds:     a.settings.Thresholds,
		Local:          a.settings.LocalNode,
		DefaultTimeout: a.settings.CmdTimeout,
		AckTimeout:     a.settings.AckTimeout,
		SyncMax:        a.settings.StatusTimeout,
		Logger:         log,
	}
	if len(a.settings.Servers) > 0 {
		nc, err := a.connect(ctx, "fabric", log)
		if err != nil {
			return nil, err
		}
		s.nc, s.servers = nc, strings.Join(a.settings.Servers, ",")
	} else {
		if err := s.embed(a, log); err != nil {
			s.close()
			return nil, err
		}
		feCfg.Local, feCfg.NoSync = s.node.ID(), true
	}
	fe, err := frontend.New(s.nc, feCfg)
	if err != nil {
		s.close()
		return nil, err
	}
	s.fe = fe
	if err := fe.Start(ctx); err != nil {
		s.close()
		return nil, err
	}
	if s.node != nil {
		fe.Registry().Observe(s.node.Heartbeat())
	}
	return s, nil
}

// embed starts the in-process hub and local node.
func (s *session) embed(a *app, log *slog.Logger) error {
	if err := nodeSupported(); err != nil {
		return fmt.Errorf("no --server or FABRIC_SERVER given, and the embedded local node cannot run: %w", err)
	}
	h, err := hub.Start(hub.Config{DontListen: true, Logger: log})
	if err != nil {
		return err
	}
	s.hub, s.servers = h, "embedded"
	if s.nodeNC, err = nats.Connect("", h.InProcess(), nats.Name("fabric-node (embedded)")); err != nil {
		return fmt.Errorf("embedded node: %w", err)
	}
	w, err := worker.New(s.nodeNC, a.workerConfig(log))
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return err
	}
	s.node = w
	if s.nc, err = nats.Connect("", h.InProcess(), nats.Name("fabric")); err != nil {
		return fmt.Errorf("embedded front end: %w", err)
	}
	return nil
}

// close stops everything the session started, in reverse order.
func (s *session) close() {
	if s.fe != nil {
		s.fe.Close()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.node != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no grace: the one-shot front end is done
		if err := s.node.Drain(ctx); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			_ = err // the embedded node dies with the process anyway
		}
	}
	if s.nodeNC != nil {
		s.nodeNC.Close()
	}
	if s.hub != nil {
		s.hub.Close()
	}
}

// workerConfig is the worker configuration from the settings.
func (a *app) workerConfig(log *slog.Logger) worker.Config {
	return worker.Config{
		Name:              a.settings.NodeName,
		Capabilities:      a.settings.Caps,
		Slots:             a.settings.Slots,
		HeartbeatInterval: a.settings.Heartbeat,
		DefaultTimeout:    a.settings.CmdTimeout,
		OutputLimit:       a.settings.OutputLimit,
		DrainGrace:        a.settings.DrainGrace,
		Subjects:          &a.settings.subjects,
		Version:           Version,
		Logger:            log,
	}
}
