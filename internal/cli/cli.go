// Package cli is the command line of fabric: the `fabric` front end (run,
// nodes, serve, node, ...) and the `fabric-node` worker, which is the same
// `node` command on its own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fabric-run/fabric/internal/auth"
	"github.com/fabric-run/fabric/internal/config"
	"github.com/fabric-run/fabric/internal/guard"
	"github.com/fabric-run/fabric/internal/inventory"
)

// Version is fabric's version, reported by --version, heartbeats and the
// micro service.
const Version = "0.1.0"

// Exit codes of fabric itself (a command that ran exits with its own code).
const (
	ExitOK        = 0
	ExitError     = 1   // bad usage or configuration
	ExitTimeout   = 124 // the command hit its timeout (as timeout(1))
	ExitNotRun    = 125 // the fabric could not run the command (no node, refused, lost)
	ExitCancelled = 130 // interrupted
)

// IO is what a command reads and writes.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Env looks up environment variables; nil means os.LookupEnv.
	Env config.Lookup
}

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error // printed unless nil
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// Run runs the fabric command line with args (without the program name)
// and returns the process exit code. ctx ends on SIGINT/SIGTERM. extra
// adds commands beside fabric's own (cmd/fabric adds `fabric bench`).
func Run(ctx context.Context, args []string, stdio IO, extra ...Command) int {
	tuneGC()
	return execute(ctx, newRoot(&stdio, extra), args, stdio)
}

// RunNode runs the worker on its own (the fabric-node program).
func RunNode(ctx context.Context, args []string, stdio IO) int {
	return execute(ctx, newNodeRoot(&stdio), args, stdio)
}

// newNodeRoot is the fabric-node program's command: `node` on its own.
func newNodeRoot(stdio *IO) *cobra.Command {
	app := &app{io: stdio}
	cmd := app.nodeCommand()
	cmd.Use = "fabric-node"
	cmd.Version = Version
	// As for fabric: execute prints the error once, without the usage.
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	app.addGlobalFlags(cmd)
	return cmd
}

func execute(ctx context.Context, cmd *cobra.Command, args []string, stdio IO) int {
	cmd.SetArgs(args)
	cmd.SetIn(stdio.Stdin)
	cmd.SetOut(stdio.Stdout)
	cmd.SetErr(stdio.Stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stdio.Stderr, "fabric:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stdio.Stderr, "fabric:", err)
	return ExitError
}

// app holds what every command shares: IO, settings, global flags.
type app struct {
	io       *IO
	settings *settings
	// guard vets commands on the front end and on the node (the default
	// policy until a node policy is configured).
	guard *guard.Guard
	// inventory is the config file: SSH-only nodes and this machine's policy.
	inventory *inventory.Inventory
	// global flags
	servers    []string
	prefix     string
	logLevel   string
	configFile string
	authFlags  auth.Client
}

func newRoot(stdio *IO, extra []Command) *cobra.Command {
	a := &app{io: stdio}
	root := &cobra.Command{
		Use:   "fabric",
		Short: "Run commands across a cluster of your own machines",
		Long: `fabric runs shell commands on the best machine of your cluster: the one that
matches the command's needs (OS, CPU architecture, capabilities such as docker
or gpu) and is least loaded. Machines run a worker (fabric node) reached over
NATS; with no server configured, fabric embeds one and runs a local node, so it
works on one machine with nothing else running.

Environment variables (FABRIC_*) set defaults for flags; see the README.`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	a.addGlobalFlags(root)
	root.AddCommand(a.runCommand(), a.nodesCommand(), a.serveCommand(), a.nodeCommand())
	root.AddCommand(a.submitCommand(), a.statusCommand(), a.logsCommand(), a.cancelCommand(), a.watchCommand(), a.tasksCommand())
	root.AddCommand(a.locksCommand())
	root.AddCommand(a.initCommand())
	root.AddCommand(a.mcpCommand())
	for _, c := range extra {
		root.AddCommand(c(Env{a}))
	}
	return root
}

func (a *app) addGlobalFlags(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringSliceVarP(&a.servers, "server", "s", nil, "NATS server URL(s) (env FABRIC_SERVER); none: embedded hub and local node")
	pf.StringVar(&a.prefix, "prefix", "", "subject prefix (env FABRIC_PREFIX, default fabric)")
	pf.StringVarP(&a.configFile, "config", "c", "", "config file listing SSH-only nodes (env FABRIC_CONFIG, default ~/.config/fabric/config.yaml)")
	pf.StringVar(&a.logLevel, "log-level", "", "log level: debug, info, warn, error (env FABRIC_LOG_LEVEL; default info for node and serve, warn otherwise)")
	pf.StringVar(&a.authFlags.NKeySeed, "nkey", "", "nkey seed file to authenticate to NATS with (env FABRIC_NKEY)")
	pf.StringVar(&a.authFlags.Creds, "creds", "", ".creds file for NATS in operator mode (env FABRIC_CREDS)")
	pf.StringVar(&a.authFlags.User, "user", "", "NATS user (env FABRIC_USER; password in FABRIC_PASSWORD)")
	pf.StringVar(&a.authFlags.Token, "token", "", "NATS token (env FABRIC_TOKEN)")
	pf.StringVar(&a.authFlags.TLSCA, "tls-ca", "", "CA the NATS server's certificate must chain to (env FABRIC_TLS_CA)")
	pf.StringVar(&a.authFlags.TLSCert, "tls-cert", "", "client certificate (env FABRIC_TLS_CERT)")
	pf.StringVar(&a.authFlags.TLSKey, "tls-key", "", "client certificate's key (env FABRIC_TLS_KEY)")
	cmd.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := negativeDurations(cmd.Flags()); err != nil {
			return &exitError{code: ExitError, err: err}
		}
		s, err := loadSettings(a.io.lookup())
		if err != nil {
			return &exitError{code: ExitError, err: fmt.Errorf("environment: %w", err)}
		}
		if len(a.servers) > 0 {
			s.Servers = a.servers
		}
		if a.prefix != "" {
			s.Prefix = a.prefix
		}
		if a.logLevel != "" {
			s.LogLevel = a.logLevel
		}
		if a.configFile != "" {
			s.ConfigFile = a.configFile
		}
		overrideAuth(&s.Auth, a.authFlags)
		if err := s.finish(); err != nil {
			return &exitError{code: ExitError, err: err}
		}
		a.settings = s
		inv, err := inventory.Load(s.ConfigFile)
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		a.inventory = inv
		g, err := guard.New(policy(inv.Policy, s.Guard))
		if err != nil {
			return &exitError{code: ExitError, err: fmt.Errorf("command guard (config policy, FABRIC_GUARD_*): %w", err)}
		}
		a.guard = g
		return nil
	}
}

// negativeDurations refuses a duration flag given a negative value: no
// timeout, interval or grace means anything below zero (and 0 is "the
// default" or "never", as each flag's help says).
func negativeDurations(fs *pflag.FlagSet) error {
	var bad error
	fs.Visit(func(f *pflag.Flag) {
		if d, err := fs.GetDuration(f.Name); bad == nil && err == nil && d < 0 {
			bad = fmt.Errorf("--%s %v: must not be negative", f.Name, d)
		}
	})
	return bad
}

// overrideAuth lets each credential flag given replace the environment's.
func overrideAuth(env *auth.Client, flags auth.Client) {
	if flags.NKeySeed != "" || flags.Creds != "" || flags.User != "" || flags.Token != "" {
		env.NKeySeed, env.Creds, env.User, env.Token = flags.NKeySeed, flags.Creds, flags.User, flags.Token
	}
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&env.TLSCA, flags.TLSCA}, {&env.TLSCert, flags.TLSCert}, {&env.TLSKey, flags.TLSKey},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
}

// policy is the config file's policy, with each FABRIC_GUARD_* setting
// given replacing its part.
func policy(file, env guard.Policy) guard.Policy {
	p := file
	if env.AllowList != nil {
		p.AllowList = env.AllowList
	}
	if env.DenyList != nil {
		p.DenyList = env.DenyList
	}
	if env.AllowPower {
		p.AllowPower = true
	}
	if env.AllowEnv != nil {
		p.AllowEnv = env.AllowEnv
	}
	return p
}

func (io *IO) lookup() config.Lookup {
	if io.Env != nil {
		return io.Env
	}
	return os.LookupEnv
}

// logger logs to stderr at the configured level: by default, warnings only
// for one-shot commands (their output is the command's), info for daemons.
func (a *app) logger() *slog.Logger { return a.loggerAt(slog.LevelWarn) }

// daemonLogger is the logger of long-running commands (node, serve).
func (a *app) daemonLogger() *slog.Logger { return a.loggerAt(slog.LevelInfo) }

func (a *app) loggerAt(def slog.Level) *slog.Logger {
	lvl := def
	if a.settings.LogLevel != "" {
		_ = lvl.UnmarshalText([]byte(a.settings.LogLevel))
	}
	return slog.New(slog.NewTextHandler(a.io.Stderr, &slog.HandlerOptions{Level: lvl}))
}
