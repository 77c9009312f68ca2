// Package mcpserver is fabric's tool surface for AI agents: an MCP server
// (mark3labs/mcp-go) over a task service. Its tools run shell commands on
// the cluster (routed, on a named node, or many at once), read the cluster's
// state, and wait for, read, and cancel tasks by id.
//
// Every command tool answers within a sync budget: a command still running
// then goes on, and the answer carries its task id for wait_task. Output in
// answers is bounded (head and tail of each stream within a byte budget);
// task_output reads any slice of what the fabric kept.
package mcpserver

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/fabric-run/fabric/internal/frontend"
)

// Defaults for Config fields left zero.
const (
	// DefaultSyncBudget is how long a tool call waits for a command. Claude
	// Code stops waiting for a tool at about 60 s whatever progress is sent.
	DefaultSyncBudget = 45 * time.Second
	// DefaultOutputBytes bounds the output one answer shows, all streams
	// together: well under a client's cap (about 25,000 tokens).
	DefaultOutputBytes = 16 << 10
	// MinOutputBytes is the least output budget that still shows something
	// useful of two streams.
	MinOutputBytes = 1 << 10
	// DefaultProgressInterval is the least time between two progress
	// notifications of one call; lines arriving in between are sent together.
	DefaultProgressInterval = 200 * time.Millisecond
)

// Name is the server's name in the MCP handshake.
const Name = "fabric"

// Config configures a Server.
type Config struct {
	// Service runs the tasks. Without one the server starts detached:
	// every tool call answers an error saying why (Detached) until Attach
	// gives it a service.
	Service *frontend.Service
	// Detached says why there is no service yet, for the answers of a
	// detached server (required without Service).
	Detached func() string
	// SyncBudget is how long a command tool waits before it returns the task
	// id of a command still running (default DefaultSyncBudget).
	SyncBudget time.Duration
	// OutputBytes bounds the output shown in one answer (default
	// DefaultOutputBytes, at least MinOutputBytes).
	OutputBytes int
	// Server says how the front end reaches the cluster (the NATS URL, or
	// "the local hub"), for cluster_status; with Service (Attach says it
	// for a server that starts detached).
	Server string
	// Version is reported in the MCP handshake.
	Version string
	// ProgressInterval is the least time between progress notifications
	// (default DefaultProgressInterval).
	ProgressInterval time.Duration
	// Logger receives the server's log; default discards.
	Logger *slog.Logger
}

// Server is the MCP server. It is safe for concurrent use: every tool call
// runs on the caller's goroutine and owns what it starts.
type Server struct {
	cfg      Config
	attached atomic.Pointer[attachment]
	mcp      *server.MCPServer
	log      *slog.Logger
}

// attachment is the service a server runs tasks with, and how it reaches
// the cluster.
type attachment struct {
	svc    *frontend.Service
	server string
}

// New builds the MCP server with all its tools.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil && cfg.Detached == nil {
		return nil, errors.New("mcpserver: no task service, and no reason why")
	}
	if cfg.SyncBudget <= 0 {
		cfg.SyncBudget = DefaultSyncBudget
	}
	if cfg.OutputBytes <= 0 {
		cfg.OutputBytes = DefaultOutputBytes
	}
	cfg.OutputBytes = max(cfg.OutputBytes, MinOutputBytes)
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultProgressInterval
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	if cfg.Service != nil {
		s.Attach(cfg.Service, cfg.Server)
	}
	s.mcp = server.NewMCPServer(Name, cfg.Version,
		server.WithToolCapabilities(false),
		server.WithToolHandlerMiddleware(s.requireService),
		server.WithRecovery(),
		server.WithOutputSchemaValidation(),
		server.WithInstructions(s.instructions()),
	)
	s.addTools()
	return s, nil
}

// Attach gives a detached server the service to run tasks with, and says
// how it reaches the cluster (for cluster_status). From then on tool calls
// run as on a server built with the service.
func (s *Server) Attach(svc *frontend.Service, server string) {
	s.attached.Store(&attachment{svc: svc, server: server})
}

// requireService answers every tool call of a detached server with why it
// is detached.
func (s *Server) requireService(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if s.attached.Load() == nil {
			return mcp.NewToolResultError(s.cfg.Detached()), nil
		}
		return next(ctx, req)
	}
}

// service is the attached task service; only tool handlers call it, and
// requireService lets them run only once there is one.
func (s *Server) service() *frontend.Service { return s.attached.Load().svc }

// MCP returns the mcp-go server, to serve over stdio or HTTP or to connect
// an in-process client to.
func (s *Server) MCP() *server.MCPServer { return s.mcp }

func (s *Server) addTools() {
	s.mcp.AddTool(clusterBashTool(s.cfg), s.handleClusterBash)
	s.mcp.AddTool(offloadToTool(s.cfg), s.handleOffloadTo)
	s.mcp.AddTool(parallelExecuteTool(s.cfg), s.handleParallel)
	s.mcp.AddTool(clusterStatusTool(), s.handleClusterStatus)
	s.mcp.AddTool(taskStatusTool(), s.handleTaskStatus)
	s.mcp.AddTool(waitTaskTool(s.cfg), s.handleWaitTask)
	s.mcp.AddTool(taskOutputTool(s.cfg), s.handleTaskOutput)
	s.mcp.AddTool(cancelTaskTool(), s.handleCancelTask)
}

func (s *Server) instructions() string {
	return `fabric runs shell commands on the machines of the user's cluster (this machine included) and tells you where each ran, why, its exit code, duration and output. ` +
		`Use cluster_bash for a command that should run wherever fits best: fabric reads what the command needs (docker build needs a node with docker, swift needs macOS; requires_os, requires_arch and requires_capabilities add needs) and picks the least-loaded matching node; light commands (ls, cat, echo ...) stay on this machine. ` +
		`Use offload_to to run on one named node, parallel_execute for many independent commands at once (spread over the nodes, one result per command in order, identical outputs grouped), and cluster_status to see the nodes, their capabilities and load. ` +
		`Every command call waits at most ` + seconds(s.cfg.SyncBudget) + `: a command still running then is not killed; the answer carries its task id, and wait_task waits for it (again up to ` + seconds(s.cfg.SyncBudget) + ` per call, server-side, so never poll in a loop). ` +
		`For long builds and tests pass background: true and call wait_task when you need the result. ` +
		`Answers show the head and tail of each output stream within ` + sizeOf(int64(s.cfg.OutputBytes)) + `; task_output reads any slice (head, tail, a line range, or a grep) of what the fabric kept of each stream (all of it up to 1 MiB by default, past that its head and tail). ` +
		`A command that ran and exited non-zero is a normal answer; one that could not run (no matching node, unknown node, refused by the command guard, timed out, node lost, cancelled) is an error saying why and what would help. cancel_task stops a task and its whole process group.`
}
