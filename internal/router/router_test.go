package router

import (
	"errors"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/bench/procstat"
	"github.com/fabric-run/fabric/internal/registry"
	"github.com/fabric-run/fabric/internal/wire"
)

func TestInfer(t *testing.T) {
	tests := []struct {
		cmd   string
		caps  []string
		os    string
		class Class
	}{
		{"ls -la", nil, "", Light},
		{"cd src && cat x | head -3", nil, "", Light},
		{"docker build .", []string{"docker"}, "", Heavy},
		{"sudo -u ci docker compose up", []string{"docker"}, "", Heavy},
		{"env CGO_ENABLED=0 go build ./...", []string{"go"}, "", Heavy},
		{"swift build", []string{"swift"}, "darwin", Heavy},
		{"cd app && npm ci && npm test", []string{"node"}, "", Heavy},
		{"nvidia-smi", []string{"gpu"}, "", Normal},
		{"bash -c 'cargo build --release'", []string{"cargo"}, "", Heavy},
		{"grep -r TODO .", nil, "", Heavy},
		{"grep TODO main.go", nil, "", Normal},
		{"echo $(uname -a)", nil, "", Light},
		{"for f in *.c; do gcc -c $f; done", []string{"gcc"}, "", Heavy},
		{"timeout 10 make -j8", []string{"make"}, "", Heavy},
		{"/usr/bin/docker ps", []string{"docker"}, "", Heavy},
		{"echo docker build", nil, "", Light},
		{"apt-get install -y jq", nil, "linux", Normal},
		{"x=1", nil, "", Light},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			got, err := Infer(tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Capabilities, tt.caps) || got.OS != tt.os || got.Class != tt.class {
				t.Fatalf("Infer(%q) = caps %v os %q class %s; want caps %v os %q class %s",
					tt.cmd, got.Capabilities, got.OS, got.Class, tt.caps, tt.os, tt.class)
			}
		})
	}
	if _, err := Infer("echo 'unterminated"); err == nil {
		t.Fatal("unparseable command accepted")
	}
}

// node is the heartbeat of a ready worker with make.
func node(id, os, arch string, load1 float64, caps ...string) *wire.Heartbeat {
	return &wire.Heartbeat{Node: id, OS: os, Arch: arch, Capabilities: append([]string{"any", "make"}, caps...),
		State: wire.StateReady, Load1: load1, CPUs: 4, Slots: 4, Interval: wire.Duration(time.Minute)}
}

func threeNodes() []*wire.Heartbeat {
	return []*wire.Heartbeat{
		node("linux-a", "linux", "amd64", 2.0, "docker"),
		node("linux-b", "linux", "amd64", 0.5),
		node("mac", "darwin", "arm64", 1.0, "swift"),
	}
}

// table is a registry that has heard hbs.
func table(hbs ...*wire.Heartbeat) *registry.Registry {
	reg := registry.New(nil, registry.Config{})
	for _, hb := range hbs {
		reg.Observe(hb)
	}
	return reg
}

// cmd is a request to place command, with the explicit requirements if any.
func cmd(command string, req ...wire.Requirements) Request {
	t := &wire.Task{Command: command}
	if len(req) > 0 {
		t.Requires = req[0]
	}
	return Request{Task: t}
}

// route decides over reg's table.
func route(r *Router, req Request, reg *registry.Registry) (d *Decision, err error) {
	reg.View(func(t *registry.Table, now time.Time) { d, err = r.Route(req, t, now) })
	return d, err
}

// place places over reg's table.
func place(r *Router, req Request, reg *registry.Registry) (d *Decision, err error) {
	reg.View(func(t *registry.Table, now time.Time) { d, err = r.Place(req, t, now) })
	return d, err
}

func ids(nodes []registry.Node) string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Node
	}
	return strings.Join(out, ", ")
}

func TestLeastLoadedChosen(t *testing.T) {
	r := New(Config{})
	d, err := route(r, cmd("make -j4"), table(threeNodes()...))
	if err != nil {
		t.Fatal(err)
	}
	if d.Order[0].Node != "linux-b" {
		t.Fatalf("chose %s, want linux-b; reason %s", d.Order[0].Node, d.Reason)
	}
	if !strings.Contains(d.Reason, "least loaded") {
		t.Errorf("reason %q", d.Reason)
	}
}

func TestFilters(t *testing.T) {
	r := New(Config{})
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"os", cmd("uname", wire.Requirements{OS: "macos"}), "mac"},
		{"arch", cmd("uname", wire.Requirements{Arch: "aarch64"}), "mac"},
		{"capability", cmd("uname", wire.Requirements{Capabilities: []string{"docker"}}), "linux-a"},
		{"inferred docker", cmd("docker build ."), "linux-a"},
		{"inferred darwin", cmd("swift build"), "mac"},
		{"node", cmd("uname", wire.Requirements{Node: "linux-a"}), "linux-a"},
		{"argv", Request{Task: &wire.Task{Argv: []string{"docker", "ps"}}}, "linux-a"},
	}
	reg := table(threeNodes()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := route(r, tt.req, reg)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Order) != 1 || d.Order[0].Node != tt.want {
				t.Fatalf("order %v, want only %s (reason %s)", ids(d.Order), tt.want, d.Reason)
			}
		})
	}
}

func TestDockerBuildOnlyToDockerNode(t *testing.T) {
	r := New(Config{})
	req := cmd("docker build .")
	req.Local = "linux-b"
	d, err := route(r, req, table(threeNodes()...))
	if err != nil {
		t.Fatal(err)
	}
	if ids(d.Order) != "linux-a" {
		t.Fatalf("order = %s", ids(d.Order))
	}
	var why string
	for _, s := range d.Skipped {
		if s.ID == "linux-b" {
			why = s.Why
		}
	}
	if why != "lacks docker" {
		t.Fatalf("linux-b skipped because %q", why)
	}
}

func TestLightStaysLocalEvenWhenLoaded(t *testing.T) {
	nodes := threeNodes()
	nodes[0].Load1, nodes[0].CPUPercent = 9, 95 // linux-a: local and busy
	reg := table(nodes...)
	r := New(Config{})
	local := func(command string) Request {
		req := cmd(command)
		req.Local = "linux-a"
		return req
	}
	d, err := route(r, local("ls -la"), reg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Order[0].Node != "linux-a" || !strings.Contains(d.Reason, "light") {
		t.Fatalf("light command went to %s: %s", d.Order[0].Node, d.Reason)
	}
	// A heavy one leaves the overloaded local node.
	d, err = route(r, local("make"), reg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Order[0].Node == "linux-a" || !strings.Contains(d.Reason, "over its offload thresholds") {
		t.Fatalf("heavy command stayed on overloaded local: %s", d.Reason)
	}
	// Under thresholds, the local node keeps heavy work too.
	nodes[0].Load1, nodes[0].CPUPercent = 1, 10
	reg.Observe(nodes[0])
	d, _ = route(r, local("make"), reg)
	if d.Order[0].Node != "linux-a" {
		t.Fatalf("idle local gave heavy work to %s: %s", d.Order[0].Node, d.Reason)
	}
}

// TestBatchSpreads: 12 commands over 3 idle equal nodes land 4/4/4 because
// each assignment raises the node's projected load.
func TestBatchSpreads(t *testing.T) {
	reg := table(node("a", "linux", "amd64", 0), node("b", "linux", "amd64", 0), node("c", "linux", "amd64", 0))
	r := New(Config{})
	batch := cmd("make")
	batch.Batch = true
	local := batch
	local.Local = "a"
	count := map[string]int{}
	for i := 0; i < 12; i++ {
		d, err := place(r, local, reg)
		if err != nil {
			t.Fatal(err)
		}
		count[d.Order[0].Node]++
	}
	if want := map[string]int{"a": 4, "b": 4, "c": 4}; !reflect.DeepEqual(count, want) {
		t.Fatalf("spread = %v, want %v", count, want)
	}
	// Now every node is at its slots: the next one waits.
	if _, err := route(r, batch, reg); !errors.Is(err, ErrAllBusy) {
		t.Fatalf("err = %v, want ErrAllBusy", err)
	}
	r.Release("b")
	if d, err := route(r, batch, reg); err != nil || d.Order[0].Node != "b" {
		t.Fatalf("after release: %v %v", d, err)
	}
}

func TestFullAndNotReadySkipped(t *testing.T) {
	nodes := threeNodes()
	nodes[1].Running = 4 // linux-b full
	now := time.Now()
	clock := now.Add(-7 * time.Second)
	reg := registry.New(nil, registry.Config{Now: func() time.Time { return clock }})
	nodes[0].Interval = wire.Duration(time.Second)
	reg.Observe(nodes[0]) // linux-a: last heard of 7 s ago
	clock = now
	reg.Observe(nodes[1])
	reg.Observe(nodes[2])
	r := New(Config{})
	_, err := route(r, cmd("uname", wire.Requirements{OS: "linux"}), reg)
	if !errors.Is(err, ErrAllBusy) {
		t.Fatalf("err = %v, want ErrAllBusy", err)
	}
	if !strings.Contains(err.Error(), "linux-b full (4/4 slots)") || !strings.Contains(err.Error(), "linux-a is stale") {
		t.Fatalf("err %q does not say why", err)
	}
}

func TestNoMatchNamesRequirement(t *testing.T) {
	r := New(Config{})
	reg := table(threeNodes()...)
	_, err := route(r, cmd("uname", wire.Requirements{OS: "windows"}), reg)
	if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "requires os=windows") || !strings.Contains(err.Error(), "mac is darwin, not windows") {
		t.Fatalf("err = %v", err)
	}
	_, err = route(r, cmd("nvidia-smi"), reg)
	if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "caps=gpu") {
		t.Fatalf("err = %v", err)
	}
	_, err = route(r, cmd("uname"), table())
	if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "no nodes are known") {
		t.Fatalf("err = %v", err)
	}
	_, err = route(r, cmd("uname", wire.Requirements{Node: "ghost"}), reg)
	if !errors.Is(err, ErrUnknownNode) || !strings.Contains(err.Error(), "linux-a, linux-b, mac") {
		t.Fatalf("err = %v", err)
	}
	_, err = route(r, cmd("uname", wire.Requirements{Capabilities: []string{"bad cap"}}), reg)
	if err == nil || !strings.Contains(err.Error(), "requirements") {
		t.Fatalf("err = %v", err)
	}
}

// cluster10000 is 10,000 linux nodes with make, loads in 13 steps (so many
// tie), in the registry's compact table; and their ids.
func cluster10000() ([]string, *registry.Table, time.Time) {
	ids := make([]string, 10000)
	tab := registry.NewTable()
	now := time.Now()
	for i := range ids {
		hb := node("n"+strings.Repeat("x", i%7)+string(rune('a'+i%26)), "linux", "amd64", float64(i%13))
		hb.Node += "-" + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)) + strconv.Itoa(i)
		ids[i] = hb.Node
		tab.Update(hb, now, time.Minute)
	}
	return ids, tab, now
}

// timer times each iteration of a benchmark in wall time and in the CPU
// time of its thread (which other work on a busy machine cannot inflate),
// and reports the p50 and p99 of each.
type timer struct {
	wall, cpu []time.Duration
	w0, c0    time.Duration
	t0        time.Time
}

func newTimer(b *testing.B) *timer {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	return &timer{}
}

func (t *timer) start() {
	t.c0, _ = procstat.ThreadCPU()
	t.t0 = time.Now()
}

func (t *timer) stop() {
	t.wall = append(t.wall, time.Since(t.t0))
	if c, err := procstat.ThreadCPU(); err == nil {
		t.cpu = append(t.cpu, c-t.c0)
	}
}

func (t *timer) report(b *testing.B) {
	for _, m := range []struct {
		ds   []time.Duration
		name string
	}{{t.wall, ""}, {t.cpu, "cpu-"}} {
		if len(m.ds) == 0 {
			continue
		}
		slices.Sort(m.ds)
		b.ReportMetric(float64(m.ds[len(m.ds)/2].Nanoseconds()), m.name+"p50-ns")
		b.ReportMetric(float64(m.ds[len(m.ds)*99/100].Nanoseconds()), m.name+"p99-ns")
	}
}

// BenchmarkRoute10000 is one placement decision over 10,000 nodes, the way
// a front end decides: over the registry's compact table.
func BenchmarkRoute10000(b *testing.B) {
	_, tab, now := cluster10000()
	r := New(Config{})
	req := cmd("make -j8")
	req.Batch = true
	tm := newTimer(b)
	b.ReportAllocs()
	for b.Loop() {
		tm.start()
		if _, err := r.Route(req, tab, now); err != nil {
			b.Fatal(err)
		}
		tm.stop()
	}
	tm.report(b)
}

// BenchmarkPlaceBatch10000 is a placement over 10,000 nodes while 2,000
// tasks this front end placed are still running (the batch path).
func BenchmarkPlaceBatch10000(b *testing.B) {
	ids, tab, now := cluster10000()
	r := New(Config{})
	for i := range 2000 {
		r.Acquire(ids[i*5])
	}
	req := cmd("make -j8")
	req.Batch = true
	tm := newTimer(b)
	b.ReportAllocs()
	for b.Loop() {
		tm.start()
		d, err := r.Place(req, tab, now)
		if err != nil {
			b.Fatal(err)
		}
		r.Release(d.Order[0].Node)
		tm.stop()
	}
	tm.report(b)
}

// BenchmarkScore10000 is the score alone, over 10,000 table rows.
func BenchmarkScore10000(b *testing.B) {
	_, tab, _ := cluster10000()
	rows := tab.Rows()
	sum := 0.0
	for b.Loop() {
		for i := range rows {
			l := tab.Load(i)
			sum += registry.Score(l.Index, int(rows[i].Running), l.PerTask)
		}
	}
	if sum < 0 {
		b.Fatal(sum)
	}
}

// BenchmarkInfer is the shell parse every placement starts with.
func BenchmarkInfer(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Infer("make -j8"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRouteSmall is a placement over a small cluster: what a
// front end spends per command beyond the scan.
func BenchmarkRouteSmall(b *testing.B) {
	tab := registry.NewTable()
	now := time.Now()
	for _, hb := range threeNodes() {
		tab.Update(hb, now, time.Minute)
	}
	r := New(Config{})
	req := cmd("true")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Route(req, tab, now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHostileCommandDoesNotCrashInference: nesting that overflows the shell
// parser's stack is refused before parsing; routing goes on without it.
func TestHostileCommandDoesNotCrashInference(t *testing.T) {
	cmd := strings.Repeat("((", 80000) + strings.Repeat("))", 80000)
	if _, err := Infer(cmd); err == nil {
		t.Fatal("hostile command inferred")
	}
	r := New(Config{})
	if _, err := route(r, Request{Task: &wire.Task{Command: cmd}}, table(threeNodes()...)); err != nil {
		t.Fatalf("Route: %v", err)
	}
}
