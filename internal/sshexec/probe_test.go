//go:build unix

package sshexec

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 0.01 }

func sameLoad(a, b Load) bool {
	return a.OS == b.OS && a.Arch == b.Arch && a.CPUs == b.CPUs && near(a.Load1, b.Load1) && near(a.Load5, b.Load5) &&
		near(a.Load15, b.Load15) && near(a.MemPercent, b.MemPercent) && a.MemTotal == b.MemTotal &&
		a.MemAvailable == b.MemAvailable && near(a.CPUPercent, b.CPUPercent)
}

func TestParseProbe(t *testing.T) {
	tests := []struct {
		file string
		want Load
	}{
		{"linux-amd64.txt", Load{
			OS: "linux", Arch: "amd64", CPUs: 2, Load1: 6.36, Load5: 5.12, Load15: 3.35,
			MemTotal: 24683620 * 1024, MemAvailable: 23496376 * 1024,
			MemPercent: float64(24683620-23496376) / 24683620 * 100,
			CPUPercent: 100, // 44 ticks, all busy, between the two samples
		}},
		{"darwin-arm64.txt", Load{
			OS: "darwin", Arch: "arm64", CPUs: 10, Load1: 2.16, Load5: 2.36, Load15: 2.42,
			MemTotal: 17179869184, MemAvailable: (36460 + 239466) * 16384,
			MemPercent: float64(17179869184-(36460+239466)*16384) / 17179869184 * 100,
			CPUPercent: (12.3 + 4.5 + 33.1 + 0.1 + 0.2) / 10,
		}},
		{"freebsd-amd64.txt", Load{OS: "freebsd", Arch: "amd64", CPUs: 4, Load1: 0.31, Load5: 0.42, Load15: 0.38}},
	}
	for _, tt := range tests {
		data, err := os.ReadFile(filepath.Join("testdata", "probe", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseProbe(string(data))
		if err != nil {
			t.Errorf("parseProbe(%s) error = %v", tt.file, err)
			continue
		}
		if !sameLoad(got, tt.want) {
			t.Errorf("parseProbe(%s) =\n  %+v\nwant\n  %+v", tt.file, got, tt.want)
		}
	}
}

func TestParseProbeErrors(t *testing.T) {
	linux, err := os.ReadFile(filepath.Join("testdata", "probe", "linux-amd64.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		out  string
		want string
	}{
		{"empty", "", "uname"},
		{"no meminfo", strings.Replace(string(linux), "== meminfo", "== other", 1), "meminfo: no MemTotal"},
		{"bad loadavg", "== uname\nLinux x86_64\n== loadavg\nsoon\n", "load averages"},
		{"no vm_stat", "== uname\nDarwin arm64\n== sysctl\n{ 1 2 3 }\n8\n1024\n", "vm_stat"},
		{"uptime without loads", "== uname\nSunOS i86pc\n== uptime\nup 3 days\n", "no load averages"},
	}
	for _, tt := range tests {
		if _, err := parseProbe(tt.out); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: parseProbe error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestParseMeminfo(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		total, free uint64
	}{
		{"MemAvailable", "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\n", 1000 << 10, 600 << 10},
		{"before Linux 3.14", "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 200 kB\n", 1000 << 10, 350 << 10},
		{"never more than total", "MemTotal: 1000 kB\nMemAvailable: 2000 kB\n", 1000 << 10, 1000 << 10},
	}
	for _, tt := range tests {
		total, free, err := parseMeminfo(tt.in)
		if err != nil || total != tt.total || free != tt.free {
			t.Errorf("%s: parseMeminfo = %d, %d, %v; want %d, %d", tt.name, total, free, err, tt.total, tt.free)
		}
	}
}

func TestCPUPercent(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice
		{"cpu  100 0 100 800 0 0 0 0 0 0", "cpu  150 0 150 900 0 0 0 0 0 0", 50},
		{"cpu  100 0 100 800 100 0 0 0 0 0", "cpu  100 0 100 850 150 0 0 0 0 0", 0},                         // iowait is idle
		{"cpu  100 0 100 800 0 0 0 0 50 0", "cpu  175 0 100 825 0 0 0 0 125 0", 75},                         // guest is in user already
		{"cpu  100 0 100 800 0 0 0 10 0 0", "cpu  100 0 100 800 0 0 0 10 0 0", 0},                           // no time passed
		{"cpu  10 20 30 40", "cpu  20 20 30 50", 50},                                                        // old kernels: four fields
		{"cpu  100 0 100 800 0 10 10 0 0 0", "cpu  100 0 100 880 0 20 20 0 0 0", 20},                        // irq and softirq are busy
		{"cpu  100 0 100 800 0 0 0 0 0 0", "cpu  90 0 100 800 0 0 0 0 0 0", 0},                              // counter went back
		{"cpu  0 0 0 0 0 0 0 0 0 0", "cpu  1000 0 0 0 0 0 0 0 0 0", 100},                                    // all busy
		{"cpu  100 0 100 800 0 0 0 0 0 0", "cpu  100 0 100 800 0 0 0 0 0 0 extra", 0},                       // unknown extra field
		{"cpu  1 2 3 4 5 6 7 8 9 10", "cpu  1 2 3 4 5 6 7 8 9 10", 0},                                       // identical
		{"cpu  152830 0 70811 266362 780 0 1143 0 0 0", "cpu  152869 0 70816 266362 780 0 1143 0 0 0", 100}, // the Linux sample
	}
	for _, tt := range tests {
		a, err1 := parseProcStat(tt.a)
		b, err2 := parseProcStat(tt.b)
		if err1 != nil || err2 != nil {
			t.Errorf("parseProcStat(%q / %q) errors: %v, %v", tt.a, tt.b, err1, err2)
			continue
		}
		if got := cpuPercent(a, b); !near(got, tt.want) {
			t.Errorf("cpuPercent(%q, %q) = %.2f, want %.2f", tt.a, tt.b, got, tt.want)
		}
	}
	if _, err := parseProcStat("intr 1 2 3"); err == nil {
		t.Error("parseProcStat(intr line) = nil error, want one")
	}
}

func TestParseVMStat(t *testing.T) {
	// Intel Macs have 4096-byte pages and say so the same way.
	in := "Mach Virtual Memory Statistics: (page size of 4096 bytes)\nPages free:      10.\nPages active:     5.\nPages inactive:   20.\n"
	ps, free, inactive, err := parseVMStat(in)
	if err != nil || ps != 4096 || free != 10 || inactive != 20 {
		t.Errorf("parseVMStat = %d, %d, %d, %v; want 4096, 10, 20", ps, free, inactive, err)
	}
}

func TestProbeLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the live probe compares against this machine's /proc")
	}
	sshd := startSSHD(t, sshdOptions{})
	p := newTestPool(t, sshd.testConfig(t))
	before := time.Now()
	l, err := p.Probe(context.Background(), sshd.Host())
	if err != nil {
		t.Fatalf("Probe = %v", err)
	}
	meminfo, _ := os.ReadFile("/proc/meminfo")
	total, _, _ := parseMeminfo(string(meminfo))
	switch {
	case l.OS != "linux" || l.Arch != runtime.GOARCH:
		t.Errorf("OS, Arch = %q, %q; want linux, %s", l.OS, l.Arch, runtime.GOARCH)
	case l.CPUs != runtime.NumCPU():
		t.Errorf("CPUs = %d, want %d", l.CPUs, runtime.NumCPU())
	case l.MemTotal != total || l.MemAvailable == 0 || l.MemAvailable > total:
		t.Errorf("MemTotal, MemAvailable = %d, %d; want %d and something less", l.MemTotal, l.MemAvailable, total)
	case l.MemPercent <= 0 || l.MemPercent >= 100 || l.CPUPercent < 0 || l.CPUPercent > 100:
		t.Errorf("MemPercent, CPUPercent = %.1f, %.1f; want within (0, 100)", l.MemPercent, l.CPUPercent)
	case l.Load1 < 0 || l.Load5 < 0 || l.Load15 < 0:
		t.Errorf("load averages %v %v %v", l.Load1, l.Load5, l.Load15)
	case l.ProbedAt.Before(before) || time.Since(l.ProbedAt) > time.Minute:
		t.Errorf("ProbedAt = %v, want just now", l.ProbedAt)
	}
	st := onlyStats(t, p)
	if st.OS != "linux" || st.Arch != runtime.GOARCH || st.Sessions != 1 {
		t.Errorf("Stats after a probe = %+v; want os, arch and one session", st)
	}
}
