package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/internal/worker"
	"github.com/fabric-run/fabric/subjects"
)

// securedHub writes a setup with Init and starts a hub enforcing it.
func securedHub(t *testing.T, o InitOptions) (*hub.Hub, string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := Init(dir, o); err != nil {
		t.Fatal(err)
	}
	f, err := LoadHubFile(filepath.Join(dir, "hub-auth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h := fabrictest.StartHub(t, hub.Config{JetStream: true, Configure: func(opts *server.Options) error {
		return f.Apply(opts, subjects.Default(), tasks.DefaultBucket)
	}})
	return h, dir
}

func connectAs(t *testing.T, h *hub.Hub, c Client, extra ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	opts, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(h.ClientURL(), append(opts, extra...)...)
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

func TestUnauthenticatedClientIsRefused(t *testing.T) {
	h, _ := securedHub(t, InitOptions{})
	if _, err := connectAs(t, h, Client{}); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("anonymous connect err = %v", err)
	}
	if _, err := connectAs(t, h, Client{User: "frontend", Password: "guess"}); err == nil {
		t.Fatal("a guessed password connected")
	}
}

// TestNodeRoleCannotPublishATask: the node role's permissions stop it
// submitting tasks; the front-end role can.
func TestNodeRoleCannotPublishATask(t *testing.T) {
	h, dir := securedHub(t, InitOptions{})
	fe, err := connectAs(t, h, Client{NKeySeed: filepath.Join(dir, "frontend.nk")})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var violations []string
	node, err := connectAs(t, h, Client{NKeySeed: filepath.Join(dir, "node.nk")}, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		violations = append(violations, err.Error())
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := connectAs(t, h, Client{NKeySeed: filepath.Join(dir, "admin.nk")})
	if err != nil {
		t.Fatal(err)
	}
	seen, _ := admin.SubscribeSync("fabric.task.>")
	admin.Flush()

	node.Publish("fabric.task.linux.amd64.any", []byte("echo from a node"))
	node.Flush()
	fabrictest.Eventually(t, 10*time.Second, "a permissions violation reported to the node", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(violations) > 0
	})
	if !strings.Contains(strings.ToLower(violations[0]), "permissions violation") {
		t.Fatalf("violation = %q", violations[0])
	}
	// The front end's task does get through (so the admin's subscription
	// works), and the node's never did: it would have come first.
	fe.Publish("fabric.task.linux.amd64.any", []byte("echo from a front end"))
	m, err := seen.NextMsg(10 * time.Second)
	if err != nil || string(m.Data) != "echo from a front end" {
		t.Fatalf("first task seen: %v %v", m, err)
	}
}

// TestRolesAreEnoughForTheWholeFabric: a node and a front end, each with
// only its role's permissions, run a task end to end, with its record and
// result in JetStream and its output streamed with flow control.
func TestRolesAreEnoughForTheWholeFabric(t *testing.T) {
	h, dir := securedHub(t, InitOptions{})
	nodeNC, err := connectAs(t, h, Client{NKeySeed: filepath.Join(dir, "node.nk")})
	if err != nil {
		t.Fatal(err)
	}
	fabrictest.StartWorker(t, nodeNC, worker.Config{Name: "n1", Load: worker.FixedLoad{CPUs: 2}, FlowWindow: 64 << 10,
		HeartbeatInterval: worker.DefaultHeartbeatInterval})

	feNC, err := connectAs(t, h, Client{NKeySeed: filepath.Join(dir, "frontend.nk")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := tasks.Open(ctx, feNC, tasks.Config{})
	if err != nil || store.Backend() != tasks.BackendJetStream {
		t.Fatalf("store %v %v", store, err)
	}
	defer store.Close()
	svc, err := frontend.New(feNC, frontend.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := svc.WaitNodes(ctx, func(ns []registry.Node) bool { return len(ns) == 1 }); err != nil {
		t.Fatal("node not seen")
	}
	st, err := svc.Run(ctx, frontend.Request{Task: wire.Task{Command: "head -c 300000 /dev/zero | tr '\\0' x; echo; echo done"}}, nil)
	if err != nil || st.State != tasks.StateDone || st.Result.StdoutBytes != 300006 {
		t.Fatalf("run: %+v %v", st, err)
	}
	// The node published the result to the records itself (ResultTo).
	_, res, err := store.Get(ctx, st.Record.ID)
	if err != nil || res == nil || !strings.HasSuffix(res.Stdout, "done\n") {
		t.Fatalf("recorded result: %v %v", res, err)
	}
}

func TestTLS(t *testing.T) {
	h, dir := securedHub(t, InitOptions{TLS: true})
	seed := filepath.Join(dir, "frontend.nk")
	if _, err := connectAs(t, h, Client{NKeySeed: seed, TLSCA: filepath.Join(dir, "ca.pem")}); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	if _, err := connectAs(t, h, Client{NKeySeed: seed}); err == nil {
		t.Fatal("connected without trusting the hub's certificate")
	}
}

func TestMutualTLS(t *testing.T) {
	h, dir := securedHub(t, InitOptions{MTLS: true})
	c := Client{NKeySeed: filepath.Join(dir, "node.nk"), TLSCA: filepath.Join(dir, "ca.pem")}
	if _, err := connectAs(t, h, c); err == nil {
		t.Fatal("connected without a client certificate")
	}
	c.TLSCert, c.TLSKey = filepath.Join(dir, "node-cert.pem"), filepath.Join(dir, "node-key.pem")
	if _, err := connectAs(t, h, c); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
}

func TestTokenAndPasswords(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	for _, tt := range []struct {
		name, file string
		good, bad  Client
	}{
		{"token", write("token.yaml", "token: s3cret\n"), Client{Token: "s3cret"}, Client{Token: "nope"}},
		{"password", write("pw.yaml", "users:\n  - {name: ci, role: frontend, password: hunter2}\n"), Client{User: "ci", Password: "hunter2"}, Client{User: "ci", Password: "x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := LoadHubFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			h := fabrictest.StartHub(t, hub.Config{Configure: func(o *server.Options) error { return f.Apply(o, subjects.Default(), "b") }})
			if _, err := connectAs(t, h, tt.good); err != nil {
				t.Fatalf("good credentials: %v", err)
			}
			if _, err := connectAs(t, h, tt.bad); err == nil {
				t.Fatal("bad credentials connected")
			}
		})
	}
}

func TestBadHubFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"empty":       "users: []\n",
		"both":        "token: x\nusers:\n  - {name: a, role: node, password: p}\n",
		"no secret":   "users:\n  - {name: a, role: node}\n",
		"bad nkey":    "users:\n  - {name: a, role: node, nkey: UNOPE}\n",
		"bad role":    "users:\n  - {name: a, role: root, password: p}\n",
		"unknown key": "users:\n  - {name: a, role: node, password: p, extra: 1}\n",
		"duplicate":   "users:\n  - {name: a, role: node, password: p}\n  - {name: a, role: node, password: q}\n",
		"half of tls": "token: x\ntls: {cert: c.pem}\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := LoadHubFile(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir, InitOptions{}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second Init err = %v", err)
	}
	if _, err := Init(dir, InitOptions{Force: true}); err != nil {
		t.Fatalf("forced: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "frontend.nk"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("seed file mode %v %v", fi.Mode(), err)
	}
}

func TestClientOptionsConflicts(t *testing.T) {
	if _, err := (Client{Token: "a", User: "b"}).Options(); err == nil {
		t.Error("two credentials accepted")
	}
	if _, err := (Client{TLSCert: "c"}).Options(); err == nil {
		t.Error("cert without key accepted")
	}
	if _, err := (Client{NKeySeed: "/nonexistent"}).Options(); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing seed err = %v", err)
	}
}

// TestNATSConfForAStandaloneServer: the roles rendered for nats-server's own
// configuration are what a real nats-server enforces.
func TestNATSConfForAStandaloneServer(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "server.conf")
	os.WriteFile(conf, []byte("include nats-auth.conf\n"), 0o600)
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server cannot read it: %v", err)
	}
	if len(opts.Nkeys) != 3 {
		t.Fatalf("%d nkey users, want 3", len(opts.Nkeys))
	}
	opts.Port, opts.Host, opts.NoSigs = -1, "127.0.0.1", true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("not ready")
	}
	var violation = make(chan error, 1)
	node, err := nats.Connect(ns.ClientURL(), func() nats.Option {
		o, _ := nats.NkeyOptionFromSeed(filepath.Join(dir, "node.nk"))
		return o
	}(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case violation <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	node.Publish("fabric.task.linux.amd64.any", []byte("x"))
	select {
	case err := <-violation:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the node role published a task on a standalone nats-server")
	}
	if _, err := nats.Connect(ns.ClientURL()); err == nil {
		t.Fatal("anonymous client connected")
	}
}
