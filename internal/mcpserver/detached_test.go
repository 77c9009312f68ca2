package mcpserver

import (
	"bytes"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/hub"
	"github.com/fabric-run/fabric/internal/worker"
)

// TestStdioStartsDetached: `fabric mcp --server URL` with nothing at URL
// still serves; its tools say the servers do not answer, and work once a hub
// with a node comes up there.
func TestStdioStartsDetached(t *testing.T) {
	// A loopback port that was just free: a hub took it and is gone.
	first, err := hub.Start(hub.Config{})
	if err != nil {
		t.Fatal(err)
	}
	hubURL := first.ClientURL()
	first.Close()
	u, err := url.Parse(hubURL)
	if err != nil {
		t.Fatal(err)
	}

	c := stdioClient(t, stdioEnv(t), "--server", hubURL)
	r := call(t, c, ToolClusterStatus, nil)
	if !r.IsError || !strings.Contains(text(r), "fabric cannot reach its NATS servers ("+hubURL+") yet") {
		t.Fatalf("cluster_status with no hub: error %v, %q", r.IsError, text(r))
	}

	h, err := hub.Start(hub.Config{Listen: u.Host})
	if err != nil {
		t.Fatalf("hub on the port just freed (%s): %v", u.Host, err)
	}
	t.Cleanup(h.Close)
	nc, err := nats.Connect(h.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w, err := worker.New(nc, worker.Config{Name: "late", OS: "linux", Arch: "amd64", NoDetect: true,
		Load: worker.FixedLoad{CPUs: 4}, Slots: 2, HeartbeatInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })

	var last string
	eventually(t, "offload_to runs on the hub that came up", func() bool {
		r := call(t, c, ToolOffloadTo, map[string]any{"node_id": "late", "command": "echo attached"})
		last = text(r)
		return !r.IsError && strings.Contains(last, "attached")
	})
	if !strings.Contains(last, "on late") {
		t.Errorf("offload_to answered %q, want it to have run on late", last)
	}
}

// TestStdioRefusedCredentialsExit: a server that answers but refuses the
// credentials is no reason to wait: fabric mcp exits, saying why.
func TestStdioRefusedCredentialsExit(t *testing.T) {
	h, err := hub.Start(hub.Config{Configure: func(o *server.Options) error {
		o.Authorization = "the-right-token"
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	cmd := exec.Command(fabricBin, "mcp", "--server", h.ClientURL())
	cmd.Env = append(stdioEnv(t), "FABRIC_TOKEN=a-wrong-token")
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &stdout, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "Authorization Violation") {
		t.Errorf("fabric mcp with a refused token: %v, stderr %q; want exit 1 naming the refusal", err, stderr.String())
	}
}
