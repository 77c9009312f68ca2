package hub

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultClusterName names the NATS cluster of hubs that join one without
// naming it.
const DefaultClusterName = "fabric"

// ClusterConfig makes a hub one server of a NATS cluster: full-mesh routes
// between servers, so a client on any of them reaches subscribers on all.
// The zero value joins no cluster.
type ClusterConfig struct {
	// Name is the cluster's name, the same on every server of it; default
	// DefaultClusterName when Listen is set.
	Name string
	// Listen is host:port where the hub accepts routes from the other
	// servers (NATS's usual port is 6222); port 0 means a random port.
	// Required for a cluster: routes are solicited only from a server that
	// listens for them too.
	Listen string
	// Routes are the servers' route URLs (nats-route://host:6222 or
	// nats://host:6222). Listing this hub itself is harmless, so every
	// server can be given the same list; without JetStream one seed is
	// enough (the rest is learned by gossip), with JetStream at least one
	// is required.
	Routes []string
}

// LeafConfig connects a hub to a larger NATS system as a leaf node, or lets
// leaf nodes connect to it. A leaf keeps its own clients and JetStream and
// shares subjects (interest) with the system it joins, which is how a hub
// usually joins an existing NATS deployment. The zero value does neither.
type LeafConfig struct {
	// Listen is host:port where the hub accepts leaf node connections
	// (NATS's usual port is 7422); port 0 means a random port.
	Listen string
	// Remotes are URLs of one system to connect to as a leaf node
	// (nats-leaf://host:7422, or nats://, tls://); several URLs are
	// alternatives, tried in turn, as a client's server list.
	Remotes []string
	// Credentials is a NATS credentials file (JWT and nkey seed) presented
	// to the remote system. Empty means none.
	Credentials string
}

func (c ClusterConfig) enabled() bool {
	return c.Listen != "" || c.Name != "" || len(c.Routes) > 0
}

func (l LeafConfig) enabled() bool {
	return l.Listen != "" || len(l.Remotes) > 0 || l.Credentials != ""
}

// applyJoin sets the cluster and leaf node options of opts from cfg.
func (cfg Config) applyJoin(opts *server.Options) error {
	if cfg.DontListen && (cfg.Cluster.enabled() || cfg.Leaf.enabled()) {
		return errors.New("hub: an in-process hub (DontListen) cannot join a cluster or a leaf node system")
	}
	if strings.ContainsAny(cfg.Name, " \t\n") {
		return fmt.Errorf("hub: server name %q: must not contain spaces", cfg.Name)
	}
	if c := cfg.Cluster; c.enabled() {
		if c.Listen == "" {
			return errors.New("hub: a cluster needs a route listen address (Cluster.Listen, host:port)")
		}
		host, port, err := hostPort("cluster listen", c.Listen)
		if err != nil {
			return err
		}
		name := c.Name
		if name == "" {
			name = DefaultClusterName
		}
		if strings.ContainsAny(name, " \t\n") {
			return fmt.Errorf("hub: cluster name %q: must not contain spaces", name)
		}
		routes, err := parseURLs("route", c.Routes, "nats-route", "nats")
		if err != nil {
			return err
		}
		if cfg.JetStream && len(routes) == 0 {
			return errors.New("hub: a JetStream cluster needs routes: list the route URL of every server of the cluster (a server's own URL is fine: it is recognised and skipped)")
		}
		opts.Cluster = server.ClusterOpts{Name: name, Host: host, Port: port}
		opts.Routes = routes
	}
	if l := cfg.Leaf; l.enabled() {
		if l.Listen != "" {
			host, port, err := hostPort("leaf listen", l.Listen)
			if err != nil {
				return err
			}
			opts.LeafNode.Host, opts.LeafNode.Port = host, port
		}
		if l.Credentials != "" && len(l.Remotes) == 0 {
			return errors.New("hub: leaf credentials given without a remote to present them to")
		}
		if len(l.Remotes) > 0 {
			urls, err := parseURLs("leaf remote", l.Remotes, "nats-leaf", "nats", "tls", "ws", "wss")
			if err != nil {
				return err
			}
			opts.LeafNode.Remotes = []*server.RemoteLeafOpts{{URLs: urls, Credentials: l.Credentials}}
		}
	}
	return nil
}

// hostPort parses host:port for a listener; an empty host means all
// interfaces, as in NATS, so callers name it; port 0 means random.
func hostPort(what, addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("hub: %s address %q: %w", what, addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("hub: %s address %q: bad port", what, addr)
	}
	if n == 0 {
		n = server.RANDOM_PORT
	}
	return h, n, nil
}

// parseURLs parses server URLs, accepting only the given schemes.
func parseURLs(what string, raw []string, schemes ...string) ([]*url.URL, error) {
	out := make([]*url.URL, 0, len(raw))
	for _, r := range raw {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		u, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("hub: %s URL %q: %w", what, r, err)
		}
		ok := false
		for _, s := range schemes {
			ok = ok || u.Scheme == s
		}
		if !ok || u.Host == "" || u.Port() == "" {
			return nil, fmt.Errorf("hub: %s URL %q: want %s://HOST:PORT", what, r, schemes[0])
		}
		out = append(out, u)
	}
	return out, nil
}

// ClusterAddr returns where the hub accepts routes, or nil when it is in no
// cluster.
func (h *Hub) ClusterAddr() net.Addr {
	if a := h.srv.ClusterAddr(); a != nil {
		return a
	}
	return nil
}

// LeafAddr returns host:port where the hub accepts leaf nodes, or "" when
// it does not.
func (h *Hub) LeafAddr() string {
	v, err := h.srv.Varz(nil)
	if err != nil || v.LeafNode.Port <= 0 {
		return ""
	}
	return net.JoinHostPort(v.LeafNode.Host, strconv.Itoa(v.LeafNode.Port))
}

// Name returns the server's name: the configured one or, when none was
// given, the server's generated id.
func (h *Hub) Name() string { return h.srv.Name() }
