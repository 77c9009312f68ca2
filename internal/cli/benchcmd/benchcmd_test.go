package benchcmd_test

import (
	"strings"
	"testing"

	"github.com/fabric-run/fabric/internal/cli"
	"github.com/fabric-run/fabric/internal/cli/benchcmd"
)

// TestFabricBenchCommandLines: with the command added, as cmd/fabric adds
// it, `fabric bench` and its probes take every flag they took inside cli;
// without it, fabric has no bench command.
func TestFabricBenchCommandLines(t *testing.T) {
	for _, args := range [][]string{
		{"bench"},
		{"bench", "--short", "--json", "--only", "1,latency", "--cpuprofile", "cpu.out"},
		{"--server", "nats://127.0.0.1:4222", "bench", "probe", "registry", "--nodes", "5", "--window", "1s", "--samples", "3", "--settle", "1s"},
		{"bench", "probe", "publish", "--bytes", "1024"},
		{"bench", "probe", "idle-frontend"},
	} {
		if err := cli.Lookup(args, benchcmd.Command); err != nil {
			t.Errorf("Lookup(%q) = %v, want nil", args, err)
		}
	}
	for args, want := range map[string]string{
		"bench --bogus":              "unknown flag: --bogus",
		"bench extra":                `unknown command "extra"`,
		"bench probe":                "accepts 1 arg(s), received 0",
		"bench --only":               "flag needs an argument",
		"bench probe x --nodes many": `invalid argument "many" for "--nodes"`,
	} {
		if err := cli.Lookup(strings.Fields(args), benchcmd.Command); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Lookup(%q) = %v, want %q", args, err, want)
		}
	}
	if err := cli.Lookup([]string{"bench"}); err == nil || !strings.Contains(err.Error(), `unknown command "bench"`) {
		t.Errorf("Lookup(bench) without the command = %v, want unknown command", err)
	}
}
