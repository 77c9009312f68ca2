package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/auth"
)

func (a *app) initCommand() *cobra.Command {
	var (
		dir       string
		o         auth.InitOptions
		server    string
		ifMissing bool
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a ready-to-use auth setup: keys, roles, TLS certificates, env files",
		Long: `Write an authentication setup for a cluster into a directory:

  frontend.nk, node.nk, admin.nk  nkey seeds of the three roles (keep them secret)
  hub-auth.yaml                   the hub's users and their permissions: a front
                                  end may publish tasks and cancels; a node may only
                                  take tasks and publish heartbeats, output, replies
                                  and results; admin may do anything (nats CLI)
  nats-auth.conf                  the same for a standalone nats-server (include it)
  signing.nk, trusted.pub         the key front ends sign tasks with, and the public
                                  key nodes trust (they then run nothing unsigned)
  ca.pem, hub-cert.pem, ...       with --tls: a CA and the hub's certificate for
                                  --hosts (with --mtls, client certificates too)
  frontend.env, node.env, ...     the FABRIC_* settings of each role, to source

Then: fabric serve --auth DIR/hub-auth.yaml --listen 0.0.0.0:4222 on the hub;
copy node.nk, trusted.pub (and ca.pem) to each node and source node.env there;
front ends source frontend.env.`,
		Example: `  fabric init --dir ~/fabric-auth --tls --hosts hub.lan --server tls://hub.lan:4222`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				dir = filepath.Join(a.settings.StateDir, "auth")
			}
			o.Server = server
			if ifMissing {
				if _, err := os.Stat(filepath.Join(dir, "hub-auth.yaml")); err == nil {
					fmt.Fprintf(a.io.Stdout, "%s already holds a setup; left as it is\n", dir)
					return nil
				}
			}
			res, err := auth.Init(dir, o)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			fmt.Fprintf(a.io.Stdout, "wrote %d files to %s\n", len(res.Files), res.Dir)
			fmt.Fprintf(a.io.Stdout, "task signing key (trusted by nodes): %s\n\n", res.SigningKey)
			fmt.Fprintf(a.io.Stdout, "hub:        fabric serve --auth %s --listen 0.0.0.0:4222\n", filepath.Join(res.Dir, "hub-auth.yaml"))
			fmt.Fprintf(a.io.Stdout, "each node:  set -a; . %s; set +a; fabric-node\n", filepath.Join(res.Dir, "node.env"))
			fmt.Fprintf(a.io.Stdout, "front ends: set -a; . %s; set +a; fabric nodes\n", filepath.Join(res.Dir, "frontend.env"))
			if !strings.HasPrefix(o.Server, "tls://") && !o.TLS {
				fmt.Fprintln(a.io.Stdout, "\nnote: without --tls, credentials are safe (nkeys never send secrets) but traffic is not encrypted")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "where to write (default FABRIC_STATE_DIR/auth)")
	f.StringVar(&server, "server", "", "the hub URL clients will use (default nats://127.0.0.1:4222, tls:// with --tls)")
	f.BoolVar(&o.TLS, "tls", false, "also make a CA and a hub certificate")
	f.BoolVar(&o.MTLS, "mtls", false, "also make client certificates and have the hub require them (implies --tls)")
	f.StringSliceVar(&o.Hosts, "hosts", nil, "names and addresses the hub certificate is for (localhost and 127.0.0.1 are always in)")
	f.BoolVar(&o.Force, "force", false, "overwrite an existing setup")
	f.BoolVar(&ifMissing, "if-missing", false, "do nothing if the directory already holds a setup (for provisioning)")
	return cmd
}
