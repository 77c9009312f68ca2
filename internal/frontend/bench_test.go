package frontend

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fabric-run/fabric/internal/runner"
	"github.com/fabric-run/fabric/internal/worker"
)

// BenchmarkTrueFabricVsRawNATS runs `true` through the fabric (front end →
// node → result) and, in the same run, through a bare NATS request to a
// responder that execs the same shell with `true`. It reports both
// latencies and their ratio (fabric/raw): the cost of routing, acks,
// records of state and process-group handling over the bare minimum.
func BenchmarkTrueFabricVsRawNATS(b *testing.B) {
	c := newCluster(b, Config{}, worker.Config{Name: "n", OS: "linux", Arch: "amd64", Load: worker.FixedLoad{CPUs: 4}, HeartbeatInterval: time.Second})
	shell := runner.DefaultShell()
	rawConn := c.connect(b)
	if _, err := rawConn.Subscribe("bench.raw", func(m *nats.Msg) {
		err := exec.Command(shell, "-c", "true").Run()
		reply := []byte("ok")
		if err != nil {
			reply = []byte(err.Error())
		}
		m.Respond(reply)
	}); err != nil {
		b.Fatal(err)
	}
	rawConn.Flush()
	client := c.connect(b)
	ctx := context.Background()
	req := cmd("true")

	var fabricTotal, rawTotal time.Duration
	for i := 0; i < 10; i++ { // warm up both paths
		c.svc.Run(ctx, req, nil)
		client.Request("bench.raw", nil, 10*time.Second)
	}
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		st, err := c.svc.Run(ctx, req, nil)
		if err != nil || st.Result.ExitCode != 0 {
			b.Fatalf("fabric: %v %+v", err, st)
		}
		mid := time.Now()
		if _, err := client.Request("bench.raw", nil, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		end := time.Now()
		fabricTotal += mid.Sub(start)
		rawTotal += end.Sub(mid)
	}
	n := float64(b.N)
	b.ReportMetric(float64(fabricTotal.Nanoseconds())/n, "fabric-ns/op")
	b.ReportMetric(float64(rawTotal.Nanoseconds())/n, "raw-ns/op")
	b.ReportMetric(float64(fabricTotal)/float64(rawTotal), "ratio")
}
