package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/worker"
)

func (a *app) serveCommand() *cobra.Command {
	var (
		listen   string
		insecure bool
		withNode bool
		join     joinFlags
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a long-lived hub (an embedded NATS server) for a cluster",
		Long: `Run the fabric hub: a NATS server with JetStream (task records are kept
under FABRIC_STATE_DIR) that nodes and front ends connect to. It listens on
loopback unless told otherwise; listening beyond loopback is refused unless
--insecure is given.

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
			if err := checkListen(listen, insecure); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			log := a.daemonLogger()
			store := filepath.Join(a.settings.StateDir, "hub")
			if err := os.MkdirAll(store, 0o700); err != nil {
				return &exitError{code: ExitError, err: fmt.Errorf("state directory: %w", err)}
			}
			hcfg := hub.Config{Listen: listen, JetStream: true, StoreDir: store, Logger: log, PingInterval: hub.ServePingInterval}
			if err := join.apply(cmd, a.io.lookup(), insecure, &hcfg); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			h, err := hub.Start(hcfg)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			defer h.Close()
			fmt.Fprintf(a.io.Stderr, "fabric: hub listening on %s (store %s)\n", h.ClientURL(), store)
			join.report(a.io.Stderr, h)
			if withNode {
				stop, err := a.startLocalNode(h, log)
				if err != nil {
					return &exitError{code: ExitError, err: err}
				}
				defer stop()
			}
			<-cmd.Context().Done()
			fmt.Fprintln(a.io.Stderr, "fabric: hub stopping")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:4222", "host:port to listen on (env FABRIC_LISTEN)")
	f.BoolVar(&insecure, "insecure", false, "allow listening beyond loopback without authentication")
	f.BoolVar(&withNode, "with-node", false, "also run a node for this machine in the same process")
	join.add(cmd)
	return cmd
}

// checkListen refuses an address reachable from the network unless the
// operator said it is fine.
func checkListen(listen string, insecure bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", listen, err)
	}
	if isLoopback(host) || insecure {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without authentication: anyone who reaches it could run commands on every node; listen on 127.0.0.1, or pass --insecure if the network is yours alone", listen)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startLocalNode runs a worker for this machine against the hub, in process.
func (a *app) startLocalNode(h *hub.Hub, log interface{ Info(string, ...any) }) (func(), error) {
	if err := nodeSupported(); err != nil {
		return nil, err
	}
	nc, err := nats.Connect("", h.InProcess(), nats.Name("fabric-node (hub)"))
	if err != nil {
		return nil, err
	}
	w, err := worker.New(nc, a.workerConfig(a.daemonLogger()))
	if err != nil {
		nc.Close()
		return nil, err
	}
	if err := w.Start(); err != nil {
		nc.Close()
		return nil, err
	}
	log.Info("local node running", "node", w.ID())
	return func() {
		_ = w.Drain(context.Background())
		nc.Close()
	}, nil
}
