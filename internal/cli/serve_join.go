package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/config"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/subjects"
)

// joinFlags are the flags of `fabric serve` that make its hub part of a
// larger NATS system: a cluster of hubs (routes), or a leaf node of an
// existing deployment. Each has a FABRIC_* variable as its default.
type joinFlags struct {
	serverName    string
	clusterName   string
	clusterListen string
	routes        []string
	leafListen    string
	leafRemotes   []string
}

// add registers the flags on cmd.
func (j *joinFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&j.serverName, "server-name", "", "this server's name, unique in the cluster and stable across restarts (env FABRIC_SERVER_NAME; default: the hostname as a token when clustering)")
	f.StringVar(&j.clusterName, "cluster-name", "", "NATS cluster to join, the same on every server (env FABRIC_CLUSTER_NAME; default fabric)")
	f.StringVar(&j.clusterListen, "cluster-listen", "", "host:port to accept routes from the other servers on, usually port 6222 (env FABRIC_CLUSTER_LISTEN)")
	f.StringSliceVar(&j.routes, "routes", nil, "route URLs of the cluster's servers, this one's included, comma-separated: nats-route://HOST:6222 (env FABRIC_ROUTES)")
	f.StringVar(&j.leafListen, "leaf-listen", "", "host:port to accept leaf node connections on, usually port 7422 (env FABRIC_LEAF_LISTEN)")
	f.StringSliceVar(&j.leafRemotes, "leaf-remote", nil, "join a larger NATS system as a leaf node: its URLs, comma-separated: nats-leaf://HOST:7422 (env FABRIC_LEAF_REMOTES)")
}

// apply fills cfg's name, cluster and leaf settings from the flags, or
// from the environment where a flag was not given. Listening beyond
// loopback for routes or leaf nodes is refused unless insecure, as for
// clients: whoever connects there joins the bus.
func (j *joinFlags) apply(cmd *cobra.Command, lookup config.Lookup, insecure bool, cfg *hub.Config) error {
	f := cmd.Flags()
	r := config.NewReader(lookup)
	str := func(flag, env string, v *string) {
		if !f.Changed(flag) {
			*v = r.String(env, *v)
		}
	}
	list := func(flag, env string, v *[]string) {
		if !f.Changed(flag) {
			*v = r.List(env, *v)
		}
	}
	str("server-name", "FABRIC_SERVER_NAME", &j.serverName)
	str("cluster-name", "FABRIC_CLUSTER_NAME", &j.clusterName)
	str("cluster-listen", "FABRIC_CLUSTER_LISTEN", &j.clusterListen)
	list("routes", "FABRIC_ROUTES", &j.routes)
	str("leaf-listen", "FABRIC_LEAF_LISTEN", &j.leafListen)
	list("leaf-remote", "FABRIC_LEAF_REMOTES", &j.leafRemotes)
	if err := r.Err(); err != nil {
		return err
	}
	if (j.clusterName != "" || len(j.routes) > 0) && j.clusterListen == "" {
		return fmt.Errorf("--cluster-name and --routes need --cluster-listen HOST:PORT (or FABRIC_CLUSTER_LISTEN): a server solicits routes only if it accepts them too")
	}
	if j.clusterListen != "" && len(j.routes) == 0 {
		// The hub keeps task records in JetStream, which in a cluster
		// starts only with routes configured.
		return fmt.Errorf("--cluster-listen needs --routes (or FABRIC_ROUTES): the route URL of every server of the cluster, this one's included (it is recognised and skipped), e.g. --routes nats-route://hub1:6222,nats-route://hub2:6222,nats-route://hub3:6222")
	}
	for _, l := range []struct{ flag, addr string }{{"--cluster-listen", j.clusterListen}, {"--leaf-listen", j.leafListen}} {
		if l.addr == "" {
			continue
		}
		if err := checkListen(l.addr, insecure); err != nil {
			return fmt.Errorf("%s: %w", l.flag, err)
		}
	}
	cfg.Name = j.serverName
	cfg.Cluster = hub.ClusterConfig{Name: j.clusterName, Listen: j.clusterListen, Routes: j.routes}
	cfg.Leaf.Listen, cfg.Leaf.Remotes = j.leafListen, j.leafRemotes
	if cfg.Name == "" && (j.clusterListen != "" || j.leafListen != "" || len(j.leafRemotes) > 0) {
		// Stable across restarts, unlike the server's generated id:
		// JetStream in a cluster knows its peers by name.
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("server name: %w (give one with --server-name)", err)
		}
		cfg.Name = subjects.Token(host)
	}
	return nil
}

// report says where a joined hub listens for servers and what it joined.
func (j *joinFlags) report(w io.Writer, h *hub.Hub) {
	if a := h.ClusterAddr(); a != nil {
		fmt.Fprintf(w, "fabric: server %s accepting routes of cluster %s on %s\n", h.Name(), h.Server().ClusterName(), a)
	}
	if a := h.LeafAddr(); a != "" {
		fmt.Fprintf(w, "fabric: server %s accepting leaf nodes on %s\n", h.Name(), a)
	}
	if len(j.leafRemotes) > 0 {
		fmt.Fprintf(w, "fabric: server %s joining %v as a leaf node\n", h.Name(), j.leafRemotes)
	}
}
