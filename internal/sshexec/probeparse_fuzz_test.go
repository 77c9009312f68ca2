package sshexec

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseProbe fuzzes the reading of a remote machine's probe output,
// text that comes from a host the front end does not control. Whatever it
// says, parsing must not panic, and a load it accepts has no negative or
// NaN figures and a memory share within 0 to 100 %.
func FuzzParseProbe(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "probe", "*.txt"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("== uname\nLinux x86_64\n== loadavg\nNaN NaN NaN 1/1 1\n")
	f.Add("== uname\nLinux x86_64\n== meminfo\nMemTotal: 0 kB\nMemAvailable: 99999999999999999999 kB\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, out string) {
		l, err := parseProbe(out)
		if err != nil {
			return
		}
		for name, v := range map[string]float64{"load1": l.Load1, "load5": l.Load5, "load15": l.Load15, "cpu%": l.CPUPercent, "mem%": l.MemPercent} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("accepted %s = %v from %q", name, v, out)
			}
		}
		if l.MemPercent > 100 || l.CPUs < 0 {
			t.Fatalf("accepted mem %v%%, %d CPUs from %q", l.MemPercent, l.CPUs, out)
		}
	})
}
