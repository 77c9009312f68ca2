package registry

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/wire"
)

// heartbeatMsgs returns n encoded heartbeats of distinct nodes, as they
// arrive from NATS.
func heartbeatMsgs(b *testing.B, n int) []*nats.Msg {
	b.Helper()
	msgs := make([]*nats.Msg, n)
	for i := range msgs {
		hb := &wire.Heartbeat{Node: fmt.Sprintf("node-%05d", i), Instance: fmt.Sprintf("inst%018d", i), Hostname: fmt.Sprintf("host-%05d", i),
			OS: "linux", Arch: "amd64", Capabilities: []string{"any", "docker", "make"}, CPUPercent: float64(i % 100), MemPercent: 40,
			Load1: float64(i%13) / 4, CPUs: 8, Slots: 8, State: wire.StateReady, Version: "0.1.0", Time: time.Now(),
			Interval: wire.Duration(time.Second)}
		m, err := wire.NewMsg("fabric.heartbeat."+hb.Node, hb)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = m
	}
	return msgs
}

// BenchmarkIngestHeartbeat is the registry's cost per heartbeat in a cluster
// of 10,000 nodes, in steady state (every node already known): decode,
// validate, update the table.
func BenchmarkIngestHeartbeat(b *testing.B) {
	msgs := heartbeatMsgs(b, 10000)
	r := New(nil, Config{})
	for _, m := range msgs {
		r.onMsg(m)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.onMsg(msgs[i])
		i++
		if i == len(msgs) {
			i = 0
		}
	}
}

// TestIngestAllocates nothing: a front end of a 10,000-node cluster takes
// 5,000 heartbeats a second.
func TestIngestAllocatesNothing(t *testing.T) {
	hb := &wire.Heartbeat{Node: "n1", Instance: "i", Hostname: "h", OS: "linux", Arch: "amd64", Capabilities: []string{"any", "make"},
		CPUs: 4, Slots: 4, State: wire.StateReady, Time: time.Now(), Interval: wire.Duration(time.Second)}
	m, err := wire.NewMsg("fabric.heartbeat.n1", hb)
	if err != nil {
		t.Fatal(err)
	}
	r := New(nil, Config{})
	r.onMsg(m)
	if a := testing.AllocsPerRun(100, func() { r.onMsg(m) }); a != 0 {
		t.Errorf("heartbeat of a known node: %.0f allocations, want 0", a)
	}
	// A waiter still hears of every change.
	ch := r.Changed()
	r.onMsg(m)
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by a heartbeat")
	}
}
