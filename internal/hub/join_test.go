package hub

import (
	"strings"
	"testing"
)

func TestJoinOptions(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string // "" = valid
	}{
		{"no join", Config{}, ""},
		{"cluster", Config{Name: "a", Cluster: ClusterConfig{Listen: "127.0.0.1:6222", Routes: []string{"nats-route://10.0.0.2:6222", "nats://10.0.0.3:6222"}}}, ""},
		{"leaf remote", Config{Leaf: LeafConfig{Remotes: []string{"nats-leaf://hub:7422", "tls://hub2:7422"}, Credentials: "/etc/fabric/leaf.creds"}}, ""},
		{"leaf listen", Config{Leaf: LeafConfig{Listen: "127.0.0.1:0"}}, ""},
		{"routes without listen", Config{Cluster: ClusterConfig{Routes: []string{"nats-route://h:6222"}}}, "needs a route listen address"},
		{"bad route scheme", Config{Cluster: ClusterConfig{Listen: "127.0.0.1:0", Routes: []string{"http://h:6222"}}}, `route URL "http://h:6222": want nats-route://HOST:PORT`},
		{"route without port", Config{Cluster: ClusterConfig{Listen: "127.0.0.1:0", Routes: []string{"nats-route://h"}}}, "want nats-route://HOST:PORT"},
		{"bad cluster listen", Config{Cluster: ClusterConfig{Listen: "h:99999"}}, `cluster listen address "h:99999": bad port`},
		{"cluster name with space", Config{Cluster: ClusterConfig{Name: "my cluster", Listen: "127.0.0.1:0"}}, "must not contain spaces"},
		{"server name with space", Config{Name: "my hub"}, "must not contain spaces"},
		{"bad leaf remote", Config{Leaf: LeafConfig{Remotes: []string{"hub:7422"}}}, "want nats-leaf://HOST:PORT"},
		{"credentials alone", Config{Leaf: LeafConfig{Credentials: "x.creds"}}, "without a remote"},
		{"JetStream cluster without routes", Config{JetStream: true, StoreDir: "/nonexistent", Cluster: ClusterConfig{Listen: "127.0.0.1:0"}}, "a JetStream cluster needs routes"},
		{"JetStream cluster with its own route", Config{Name: "a", JetStream: true, StoreDir: "/nonexistent", Cluster: ClusterConfig{Listen: "127.0.0.1:6222", Routes: []string{"nats-route://127.0.0.1:6222"}}}, ""},
		{"in-process cluster", Config{DontListen: true, Cluster: ClusterConfig{Listen: "127.0.0.1:0"}}, "cannot join"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := tt.cfg.options()
			if tt.err == "" {
				if err != nil {
					t.Fatalf("options() = %v, want no error", err)
				}
				if tt.cfg.Cluster.Listen != "" && opts.Cluster.Name != DefaultClusterName && tt.cfg.Cluster.Name == "" {
					t.Errorf("cluster name = %q, want %q", opts.Cluster.Name, DefaultClusterName)
				}
				if n := len(tt.cfg.Cluster.Routes); len(opts.Routes) != n {
					t.Errorf("routes = %v, want %d", opts.Routes, n)
				}
				if len(tt.cfg.Leaf.Remotes) > 0 && (len(opts.LeafNode.Remotes) != 1 || len(opts.LeafNode.Remotes[0].URLs) != len(tt.cfg.Leaf.Remotes) || opts.LeafNode.Remotes[0].Credentials != tt.cfg.Leaf.Credentials) {
					t.Errorf("leaf remotes = %+v", opts.LeafNode.Remotes)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("options() = %v, want an error containing %q", err, tt.err)
			}
		})
	}
}

func TestAddressesOfAStandaloneHub(t *testing.T) {
	h, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if a := h.ClusterAddr(); a != nil {
		t.Errorf("ClusterAddr() = %v, want nil", a)
	}
	if a := h.LeafAddr(); a != "" {
		t.Errorf("LeafAddr() = %q, want empty", a)
	}
	if h.Name() == "" {
		t.Error("Name() is empty")
	}
}
