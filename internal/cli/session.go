package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/guard"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/signing"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/worker"
)

// spawnIdleExit is how long a local hub started in the background by a
// command stays up with nothing to do.
const spawnIdleExit = 10 * time.Minute

// sessionMode says what a command needs when no server is configured and no
// local hub runs.
type sessionMode int

const (
	// modeOneShot (run, nodes): embed a hub and a node in this process for
	// the command's life; records are kept in memory only.
	modeOneShot sessionMode = iota
	// modeReader (status, logs, cancel, watch): embed a hub on the local
	// store, with no node, to read the records.
	modeReader
	// modeShared (submit, mcp): start the local hub in the background,
	// since tasks must outlive this process.
	modeShared
)

// session is a connected front end: its task service.
type session struct {
	svc     *frontend.Service
	store   tasks.Store
	nc      *nats.Conn
	servers string // for messages: the URLs, or how the hub was reached

	hub    *hub.Hub       // embedded only
	lock   *hub.StoreLock // embedded reader only
	node   *worker.Worker // embedded one-shot only
	nodeNC *nats.Conn
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

// connect dials urls with the configured credentials.
func (a *app) connect(urls []string, name string, log *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	joined := strings.Join(urls, ",")
	creds, err := a.settings.Auth.Options()
	if err != nil {
		return nil, err
	}
	opts := append(a.connectOptions(name, log), nats.Timeout(a.settings.StatusTimeout))
	opts = append(opts, creds...)
	opts = append(opts, extra...)
	nc, err := nats.Connect(joined, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", joined, err)
	}
	return nc, nil
}

// localHub returns the paths of this machine's local hub.
func (a *app) localHub() hub.Local { return hub.Local{Dir: a.settings.StateDir} }

// openSession connects a front end: to the configured servers; else to the
// local hub if one runs; else as mode says.
func (a *app) openSession(ctx context.Context, log *slog.Logger, mode sessionMode) (*session, error) {
	s := &session{}
	// The inventory's machines (SSH-only) come with a bad entry already
	// refused, with its file, line and reason, when the settings were read.
	feCfg := frontend.Config{
		Subjects:       &a.settings.subjects,
		Thresholds:     a.settings.Thresholds,
		Local:          a.settings.LocalNode,
		DefaultTimeout: a.settings.CmdTimeout,
		AckTimeout:     a.settings.AckTimeout,
		SyncMax:        a.settings.StatusTimeout,
		Check:          a.guard.CheckTask,
		SSHNodes:       a.inventory.Nodes,
		SSH:            a.settings.SSH,
		ProbeTTL:       a.settings.StatusTimeout,
		OutputLimit:    a.settings.OutputLimit,
		Logger:         log,
	}
	if a.settings.SignKey != "" {
		signer, err := signing.LoadSigner(a.settings.SignKey)
		if err != nil {
			return nil, err
		}
		feCfg.Sign, feCfg.SignInput = signer.Sign, signer.SignInput
	}
	if err := s.dial(ctx, a, log, mode); err != nil {
		s.close()
		return nil, err
	}
	if s.node != nil {
		feCfg.Local, feCfg.NoSync = s.node.ID(), true
	}
	var err error
	if s.store, err = a.openStore(ctx, s.nc, log, mode); err != nil {
		s.close()
		return nil, err
	}
	feCfg.Store = s.store
	if s.svc, err = frontend.New(s.nc, feCfg); err != nil {
		s.close()
		return nil, err
	}
	if err := s.svc.Start(ctx); err != nil {
		s.close()
		return nil, err
	}
	if s.node != nil {
		s.svc.Observe(s.node.Heartbeat())
	}
	return s, nil
}

// openStore opens the task records. When the server's JetStream does not
// answer (a cluster that lost its quorum, say), commands that run tasks go
// on with records in memory, saying so; readers of records fail.
func (a *app) openStore(ctx context.Context, nc *nats.Conn, log *slog.Logger, mode sessionMode) (tasks.Store, error) {
	cfg := tasks.Config{MaxAge: a.settings.RecordTTL, Logger: log}
	octx, cancel := context.WithTimeout(ctx, a.settings.StatusTimeout)
	defer cancel()
	store, err := tasks.Open(octx, nc, cfg)
	if err == nil || mode == modeReader || ctx.Err() != nil {
		return store, err
	}
	log.Warn("task records kept in this process only: the server's JetStream did not answer", "err", err)
	return tasks.NewMemory(cfg), nil
}

// dial sets s.nc (and what it embeds) for mode.
func (s *session) dial(ctx context.Context, a *app, log *slog.Logger, mode sessionMode) error {
	var err error
	if len(a.settings.Servers) > 0 {
		s.servers = strings.Join(a.settings.Servers, ",")
		s.nc, err = a.connect(a.settings.Servers, "fabric", log)
		return err
	}
	lh := a.localHub()
	if adv, ok := lh.Discover(); ok {
		s.servers = adv.URL + " (local hub)"
		s.nc, err = a.connect([]string{adv.URL}, "fabric", log)
		return err
	}
	switch mode {
	case modeShared:
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("start local hub: %w", err)
		}
		adv, err := lh.Spawn(ctx, exe, []string{"serve", "--with-node", "--listen", "127.0.0.1:0", "--idle-exit", spawnIdleExit.String()})
		if err != nil {
			return err
		}
		log.Info("started the local hub", "url", adv.URL, "pid", adv.PID)
		s.servers = adv.URL + " (local hub, started now)"
		s.nc, err = a.connect([]string{adv.URL}, "fabric", log)
		return err
	case modeReader:
		return s.embedReader(a, log)
	default:
		return s.embedOneShot(a, log)
	}
}

// embedOneShot starts an in-process hub (no TCP listener, no store) and a
// local node.
func (s *session) embedOneShot(a *app, log *slog.Logger) error {
	if err := nodeSupported(); err != nil {
		return fmt.Errorf("no --server or FABRIC_SERVER given, and the embedded local node cannot run: %w", err)
	}
	h, err := hub.Start(hub.Config{DontListen: true, Logger: log})
	if err != nil {
		return err
	}
	s.hub, s.servers = h, "embedded (in process; records kept in memory)"
	if s.node, s.nodeNC, err = a.startInProcessNode(h, "fabric-node (embedded)", log); err != nil {
		return fmt.Errorf("embedded node: %w", err)
	}
	if s.nc, err = nats.Connect("", h.InProcess(), nats.Name("fabric")); err != nil {
		return fmt.Errorf("embedded front end: %w", err)
	}
	return nil
}

// embedReader opens the local store with an in-process hub and no node.
func (s *session) embedReader(a *app, log *slog.Logger) error {
	lh := a.localHub()
	lock, err := lh.Acquire()
	if err != nil {
		if errors.Is(err, hub.ErrLocked) {
			return fmt.Errorf("%w; it is not advertising a hub yet, try again in a moment", err)
		}
		return err
	}
	s.lock = lock
	h, err := hub.Start(hub.Config{DontListen: true, JetStream: true, StoreDir: lh.Store(), Logger: log})
	if err != nil {
		return err
	}
	s.hub, s.servers = h, "the local store (no hub running)"
	if s.nc, err = nats.Connect("", h.InProcess(), nats.Name("fabric")); err != nil {
		return fmt.Errorf("embedded front end: %w", err)
	}
	return nil
}

// close stops everything the session started, in reverse order.
func (s *session) close() {
	if s.svc != nil {
		s.svc.Close()
	}
	if s.store != nil {
		_ = s.store.Close()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.node != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no grace: the one-shot front end is done
		_ = s.node.Drain(ctx)
	}
	if s.nodeNC != nil {
		s.nodeNC.Close()
	}
	if s.hub != nil {
		s.hub.Close()
	}
	s.lock.Release()
}

// workerConfig is the worker configuration from the settings.
func (a *app) workerConfig(log *slog.Logger) (worker.Config, error) {
	node, err := guard.ThisNode()
	if err != nil {
		return worker.Config{}, err
	}
	cfg := worker.Config{
		Name:              a.settings.NodeName,
		Capabilities:      a.settings.Caps,
		Slots:             a.settings.Slots,
		HeartbeatInterval: a.settings.Heartbeat,
		DefaultTimeout:    a.settings.CmdTimeout,
		OutputLimit:       a.settings.OutputLimit,
		DrainGrace:        a.settings.DrainGrace,
		Subjects:          &a.settings.subjects,
		Check:             a.guard.NodeCheck(node), // the node's own judgment: its cwd, home and environment
		Version:           Version,
		Logger:            log,
		Limits:            a.inventory.Limits,
		Needs:             commandNeeds,
	}
	if g := a.inventory.GPUs; g != nil {
		cfg.GPUs = max(*g, -1)
		if *g == 0 {
			cfg.GPUs = -1 // "gpus: 0": none, not detected
		}
	}
	if len(a.settings.Trusted) > 0 {
		keys, err := signing.LoadTrusted(a.settings.Trusted)
		if err != nil {
			return cfg, err
		}
		if cfg.Verifier, err = signing.NewVerifier(keys, a.settings.SignWindow, nil); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}
