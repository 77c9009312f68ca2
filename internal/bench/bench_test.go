package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/fabric-run/fabric/internal/bench"
	"github.com/fabric-run/fabric/internal/cli"
	"github.com/fabric-run/fabric/internal/cli/benchcmd"
	"github.com/fabric-run/fabric/internal/fabrictest"
)

// childEnv makes this test binary act as the fabric binary: fabric bench
// starts `fabric node` and its probes by re-running itself.
const childEnv = "FABRIC_BENCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, os.Args[1:], cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, benchcmd.Command)
		stop()
		os.Exit(code)
	}
	fabrictest.Main(m)
}

// TestShortRunReportsEveryScenario runs `fabric bench --short --json` and
// checks that every scenario ran and reported: a verdict for each measure,
// the SSH ones skipped. It asserts nothing about the numbers: timing belongs
// to benchmarks, not tests.
func TestShortRunReportsEveryScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs every scenario (seconds)")
	}
	t.Setenv(childEnv, "1") // for the processes it starts
	for _, k := range []string{"FABRIC_SERVER", "FABRIC_PREFIX", "FABRIC_NODE_NAME", "FABRIC_CAPS", "FABRIC_SLOTS", "FABRIC_HEARTBEAT"} {
		t.Setenv(k, "")
	}
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"bench", "--short", "--json"}, cli.IO{Stdout: &stdout, Stderr: &stderr}, benchcmd.Command)
	if code != 0 {
		t.Fatalf("fabric bench --short exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	if !rep.Short {
		t.Error("report does not say it is short")
	}
	seen := map[string]int{}
	for _, r := range rep.Results {
		num, _, _ := strings.Cut(r.Scenario, " ")
		seen[num]++
		switch {
		case r.Status == bench.StatusMet, r.Status == bench.StatusNotMet, r.Status == bench.StatusInfo:
			if r.Measure == "" || (r.P50 == 0 && r.Unit == "") {
				t.Errorf("%s: a verdict with nothing measured: %+v", r.Scenario, r)
			}
		case strings.HasPrefix(r.Status, "skipped: "):
			// Only the SSH scenarios may skip, and only without sshd here.
			if (num != "2" && num != "3") || !strings.Contains(r.Status, "not installed") && !strings.Contains(r.Status, "no ssh client") {
				t.Errorf("%s skipped: %s", r.Scenario, r.Status)
			}
		default:
			t.Errorf("%s: status %q", r.Scenario, r.Status)
		}
	}
	for i := 1; i <= 7; i++ {
		if seen[fmt.Sprint(i)] == 0 {
			t.Errorf("scenario %d did not report", i)
		}
	}
	var table bytes.Buffer
	if err := bench.WriteTable(&table, &rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 dispatch latency", "2 ssh dispatch latency", "3 ssh fallback", "4 throughput", "5 scale", "6 footprint", "7 big output"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	t.Logf("short run took %s:\n%s\n%s", rep.Took, stderr.String(), table.String())
}
