package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/auth"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/worker"
)

// idleCheckEvery is how often an --idle-exit hub looks at its clients.
const idleCheckEvery = time.Second

func (a *app) serveCommand() *cobra.Command {
	var (
		listen   string
		insecure bool
		withNode bool
		idleExit time.Duration
		authFile string
		join     joinFlags
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a long-lived hub (an embedded NATS server) for a cluster",
		Long: `Run the fabric hub: a NATS server with JetStream, which keeps the task records
under FABRIC_STATE_DIR, for nodes and front ends to connect to. It listens on
loopback unless told otherwise; listening beyond loopback is refused without
--auth (users, roles and TLS, as fabric init writes them) unless --insecure
is given.

The hub advertises itself in FABRIC_STATE_DIR/hub.json, so fabric commands on
this machine use it with no FABRIC_SERVER set. (fabric submit and fabric mcp
start one in the background, with --with-node and --idle-exit, when none
runs.) Only one hub may own a state directory.

Then on each machine: fabric node --server nats://HUB:4222

Several hubs form a NATS cluster (--cluster-listen, --routes: give every
server the same route list, its own included), or a hub joins a larger NATS
system as a leaf node (--leaf-remote); clients then take all the URLs.`,
		Example: `  fabric serve
  fabric serve --listen 127.0.0.1:4222 --with-node
  fabric serve --server-name hub1 --cluster-listen 127.0.0.1:6222 \
    --routes nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6223`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("listen") {
				listen = a.settings.Listen
			}
			if !cmd.Flags().Changed("auth") {
				authFile = a.settings.AuthFile
			}
			if err := checkListen(listen, insecure || authFile != ""); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			var hf *auth.HubFile
			if authFile != "" {
				var err error
				if hf, err = auth.LoadHubFile(authFile); err != nil {
					return &exitError{code: ExitError, err: err}
				}
			}
			hcfg := hub.Config{Listen: listen, PingInterval: hub.ServePingInterval}
			if err := join.apply(cmd, a.io.lookup(), insecure, &hcfg); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			return a.serve(cmd.Context(), hcfg, withNode, idleExit, hf, join)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:4222", "host:port to listen on, port 0 for any (env FABRIC_LISTEN)")
	f.BoolVar(&insecure, "insecure", false, "allow listening beyond loopback without authentication")
	f.BoolVar(&withNode, "with-node", false, "also run a node for this machine in the same process")
	f.StringVar(&authFile, "auth", "", "the hub's users, roles and TLS, from fabric init (env FABRIC_AUTH_FILE)")
	join.add(cmd)
	f.DurationVar(&idleExit, "idle-exit", 0, "exit after this long with no client but its own node and no task running (0: never)")
	return cmd
}

// serve runs the hub cfg (its listener and joins set) with the local store,
// auth and, optionally, a node, until ctx ends or it idles out.
func (a *app) serve(ctx context.Context, cfg hub.Config, withNode bool, idleExit time.Duration, hf *auth.HubFile, join joinFlags) error {
	log := a.daemonLogger()
	lh := a.localHub()
	lock, err := lh.Acquire()
	if err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("%w: another hub owns %s", err, a.settings.StateDir)}
	}
	defer lock.Release()
	if err := os.MkdirAll(lh.Store(), 0o700); err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("state directory: %w", err)}
	}
	cfg.JetStream, cfg.StoreDir, cfg.Logger = true, lh.Store(), log
	var nodeCreds []nats.Option
	if hf != nil {
		// The hub's own node connects in process as an identity made now.
		self, err := nkeys.CreateUser()
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		pub, _ := self.PublicKey()
		cfg.Configure = func(o *server.Options) error {
			return hf.Apply(o, a.settings.subjects, tasks.DefaultBucket, auth.Extra{NKey: pub, Role: auth.RoleNode})
		}
		nodeCreds = []nats.Option{nats.Nkey(pub, self.Sign)}
	}
	h, err := hub.Start(cfg)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	defer h.Close()
	var node *worker.Worker
	if withNode {
		w, stop, err := a.startLocalNode(h, log, nodeCreds...)
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		defer stop()
		node = w
	}
	if err := lh.Publish(hub.Advert{URL: h.ClientURL(), PID: os.Getpid(), Started: time.Now()}); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	defer lh.Withdraw(os.Getpid())
	fmt.Fprintf(a.io.Stderr, "fabric: hub listening on %s (store %s)\n", h.ClientURL(), lh.Store())
	join.report(a.io.Stderr, h)
	if idleExit <= 0 {
		<-ctx.Done()
	} else {
		waitIdle(ctx, h, node, idleExit, log)
	}
	fmt.Fprintln(a.io.Stderr, "fabric: hub stopping")
	return nil
}

// waitIdle returns when ctx ends or the hub has had no client but its own
// node, and no task running, for idle.
func waitIdle(ctx context.Context, h *hub.Hub, node *worker.Worker, idle time.Duration, log *slog.Logger) {
	own := 0
	if node != nil {
		own = 1
	}
	t := time.NewTicker(idleCheckEvery)
	defer t.Stop()
	since := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		busy := h.Server().NumClients() > own || (node != nil && node.Heartbeat().Running > 0)
		if busy {
			since = time.Now()
			continue
		}
		if time.Since(since) >= idle {
			log.Info("idle: exiting", "idle", idle)
			return
		}
	}
}

// checkListen refuses an address reachable from the network unless it is
// protected (or the operator said it is fine).
func checkListen(listen string, protected bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", listen, err)
	}
	if isLoopback(host) || protected {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without authentication: anyone who reaches it could run commands on every node; set up auth with `fabric init` and pass --auth, listen on 127.0.0.1, or pass --insecure if the network is yours alone", listen)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startLocalNode runs a worker for this machine against the hub, in
// process, with the given credentials.
func (a *app) startLocalNode(h *hub.Hub, log *slog.Logger, creds ...nats.Option) (*worker.Worker, func(), error) {
	if err := nodeSupported(); err != nil {
		return nil, nil, err
	}
	w, nc, err := a.startInProcessNode(h, "fabric-node (hub)", log, creds...)
	if err != nil {
		return nil, nil, err
	}
	log.Info("local node running", "node", w.ID())
	return w, func() {
		_ = w.Drain(context.Background())
		nc.Close()
	}, nil
}

// startInProcessNode starts a worker on a connection named name to h's
// in-process listener; the caller drains the worker and closes nc.
func (a *app) startInProcessNode(h *hub.Hub, name string, log *slog.Logger, creds ...nats.Option) (w *worker.Worker, nc *nats.Conn, err error) {
	if nc, err = nats.Connect("", append([]nats.Option{h.InProcess(), nats.Name(name)}, creds...)...); err != nil {
		return nil, nil, err
	}
	cfg, err := a.workerConfig(log)
	if err == nil {
		w, err = worker.New(nc, cfg)
	}
	if err == nil {
		err = w.Start()
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return w, nc, nil
}
