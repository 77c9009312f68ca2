package cli

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/mcpserver"
)

// mcpConcurrentCalls is how many tool calls `fabric mcp` serves at once on
// stdio (each may wait up to the sync budget).
const mcpConcurrentCalls = 16

// httpShutdownGrace bounds how long `fabric mcp --http` waits for calls in
// flight when it stops.
const httpShutdownGrace = 5 * time.Second

func (a *app) mcpCommand() *cobra.Command {
	var (
		httpAddr string
		insecure bool
	)
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve the fabric's tools to AI agents over MCP (stdio, or HTTP with --http)",
		Long: `Serve the Model Context Protocol on stdin/stdout, for Claude Code and other MCP
clients: tools to run commands on the cluster (cluster_bash, offload_to,
parallel_execute), to see it (cluster_status) and to follow tasks (task_status,
wait_task, task_output, cancel_task). Logs go to stderr; stdout carries MCP only.

With no server configured and no local hub running, fabric mcp starts the local
hub in the background (fabric serve --with-node, which exits after 10 idle
minutes), so every MCP session and terminal command on this machine shares one
hub, one node and one store of task records.

Each command call waits at most FABRIC_SYNC_BUDGET (45 s): a command still
running then goes on, and wait_task waits for it. Answers show at most
FABRIC_MCP_OUTPUT_BYTES of output; task_output reads the rest.

With --server URL (or FABRIC_SERVER) and no server answering there at start,
fabric mcp serves anyway: every tool says the servers do not answer yet, and
they work as soon as one does (it tries every second).

With --http ADDR it serves streamable HTTP at http://ADDR/mcp instead; listening
beyond loopback is refused unless --insecure is given.`,
		Example: `  claude mcp add fabric -- fabric mcp
  claude mcp add fabric -- fabric mcp --server nats://hub.lan:4222
  fabric mcp --http 127.0.0.1:8808`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if httpAddr != "" {
				if err := checkListen(httpAddr, insecure); err != nil {
					return &exitError{code: ExitError, err: fmt.Errorf("--http: %w", err)}
				}
			}
			return a.serveMCP(cmd.Context(), httpAddr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&httpAddr, "http", "", "serve streamable HTTP on this host:port (path /mcp) instead of stdio")
	f.BoolVar(&insecure, "insecure", false, "allow --http beyond loopback without authentication")
	return cmd
}

// serveMCP opens the shared session and serves MCP until ctx ends or, on
// stdio, the client closes stdin. When configured servers cannot be
// reached at start, it serves anyway, detached (every tool call says why),
// and attaches as soon as they answer: an MCP client started while the hub
// is down (Claude Code starts its servers once per session) gets the tools
// when the hub is back, not a failed server.
func (a *app) serveMCP(ctx context.Context, httpAddr string) error {
	log := a.logger()
	cfg := mcpserver.Config{
		SyncBudget:  a.settings.SyncBudget,
		OutputBytes: a.settings.MCPOutputBytes,
		Version:     Version,
		Logger:      log,
	}
	s, err := a.openSession(ctx, log, modeShared)
	var att *attacher
	switch {
	case err == nil:
		defer s.close()
		cfg.Service, cfg.Server = s.svc, serverForModel(s, a.settings.Servers)
		log.Info("MCP server ready", "server", s.servers, "records", s.store.Backend(), "sync_budget", a.settings.SyncBudget)
	case len(a.settings.Servers) == 0 || !errors.Is(err, nats.ErrNoServers) || ctx.Err() != nil:
		// Nothing to wait for: bad settings, refused credentials, or the
		// local hub (which fabric starts itself) failing.
		return &exitError{code: ExitError, err: err}
	default:
		att = newAttacher(a, log, err)
		cfg.Detached = att.why
		log.Warn("MCP server ready, detached: the NATS servers do not answer yet; retrying", "err", err)
	}
	srv, err := mcpserver.New(cfg)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if att != nil {
		stop := att.start(ctx, srv)
		defer stop()
	}
	if httpAddr != "" {
		return a.serveMCPHTTP(ctx, srv.MCP(), httpAddr, log)
	}
	stdio := server.NewStdioServer(srv.MCP())
	stdio.SetErrorLogger(slog.NewLogLogger(log.Handler(), slog.LevelError))
	// Tool calls wait up to the sync budget: allow more than mcp-go's 5 at once.
	server.WithWorkerPoolSize(mcpConcurrentCalls)(stdio)
	if err := stdio.Listen(ctx, a.io.Stdin, a.io.Stdout); err != nil && !errors.Is(err, context.Canceled) {
		return &exitError{code: ExitError, err: fmt.Errorf("mcp stdio: %w", err)}
	}
	return nil
}

// serverForModel says which server the session uses, for cluster_status:
// the URL it is connected to with any credentials redacted (the model
// reads this), or how the local hub was reached.
func serverForModel(s *session, configured []string) string {
	if len(configured) > 0 {
		return s.nc.ConnectedUrlRedacted()
	}
	return s.servers
}

// serveMCPHTTP serves streamable HTTP at /mcp until ctx ends.
func (a *app) serveMCPHTTP(ctx context.Context, ms *server.MCPServer, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("--http: %w", err)}
	}
	mux := http.NewServeMux()
	h := server.NewStreamableHTTPServer(ms, server.WithStreamableHTTPLogger(logger))
	mux.Handle("/mcp", h)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(a.io.Stderr, "fabric mcp http: ", 0)}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(a.io.Stderr, "fabric: MCP over HTTP at http://%s/mcp\n", ln.Addr())
	select {
	case err := <-served:
		return &exitError{code: ExitError, err: fmt.Errorf("--http: %w", err)}
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), httpShutdownGrace)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil { // ends the sessions' open streams
		logger.Warn("MCP HTTP sessions shutdown", "err", err)
	}
	if err := hs.Shutdown(sctx); err != nil {
		logger.Warn("MCP HTTP shutdown", "err", err)
	}
	<-served
	return nil
}
