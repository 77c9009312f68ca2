package cli

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"
)

// Command makes a subcommand that Run adds to fabric's command line beside
// its own. cmd/fabric adds `fabric bench` this way (package benchcmd), so
// that the fabric-node program, which shares this package, links no
// benchmark.
type Command func(Env) *cobra.Command

// Env is what an added command may use of the command line it joins. Its
// methods other than IO are for the command's run: the global flags, the
// environment and the config file are read by then.
type Env struct{ a *app }

// IO is what the command reads and writes.
func (e Env) IO() IO { return *e.a.io }

// Logger logs to stderr at the configured level (warnings by default).
func (e Env) Logger() *slog.Logger { return e.a.logger() }

// Servers are the NATS servers configured (--server, FABRIC_SERVER); none
// means the embedded hub.
func (e Env) Servers() []string { return e.a.settings.Servers }

// StartOneShot starts what `fabric run` starts with no server configured,
// whatever is configured: an embedded hub, a local node and a front end
// with its task service. stop stops them all.
func (e Env) StartOneShot(ctx context.Context) (stop func(), err error) {
	e.a.settings.Servers = nil
	s, err := e.a.openSession(ctx, e.a.logger(), modeOneShot)
	if err != nil {
		return nil, err
	}
	return s.close, nil
}
