package fabrictest

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/worker"
)

// StartWorker starts an in-process node on nc for the test, closed when it
// ends. It never probes this machine (NoDetect) and fills what cfg leaves
// zero so its subjects and load are the same everywhere: Name "n1", OS and
// Arch linux/amd64, Load FixedLoad{CPUs: 4}, and no heartbeat loop
// (HeartbeatInterval -1: the node heartbeats once as it starts; call
// PublishHeartbeat or Kick, or set an interval for a live node).
func StartWorker(t testing.TB, nc *nats.Conn, cfg worker.Config) *worker.Worker {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "n1"
	}
	cfg.NoDetect = true
	if cfg.OS == "" {
		cfg.OS, cfg.Arch = "linux", "amd64"
	}
	if cfg.Load == nil {
		cfg.Load = worker.FixedLoad{CPUs: 4}
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = -1
	}
	w, err := worker.New(nc, cfg)
	if err != nil {
		t.Fatalf("new worker %s: %v", cfg.Name, err)
	}
	if err := w.Start(); err != nil {
		t.Fatalf("start worker %s: %v", cfg.Name, err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}
