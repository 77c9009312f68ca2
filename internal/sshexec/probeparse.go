package sshexec

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/fabric-run/fabric/subjects"
)

// parseProbe reads probeScript's output into a Load (without ProbedAt).
func parseProbe(out string) (Load, error) {
	sec := sections(out)
	var l Load
	uname := strings.Fields(first(sec["uname"]))
	if len(uname) != 2 {
		return l, fmt.Errorf("parse probe: uname: want \"<os> <arch>\", got %q", first(sec["uname"]))
	}
	l.OS, _ = subjects.NormalizeOS(uname[0])
	l.Arch, _ = subjects.NormalizeArch(uname[1])
	var err error
	switch l.OS {
	case "linux":
		err = parseLinux(&l, sec)
	case "darwin":
		err = parseDarwin(&l, sec)
	default:
		err = parseOther(&l, sec)
	}
	if err != nil {
		return l, fmt.Errorf("parse probe: %s: %w", l.OS, err)
	}
	return l, nil
}

// sections splits output into its "== name" sections; a name may repeat.
func sections(out string) map[string][]string {
	sec := make(map[string][]string)
	var name string
	var body strings.Builder
	flush := func() {
		if name != "" {
			sec[name] = append(sec[name], body.String())
		}
		body.Reset()
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "== "); ok {
			flush()
			name = strings.TrimSpace(n)
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	flush()
	return sec
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func parseLinux(l *Load, sec map[string][]string) error {
	var err error
	if l.Load1, l.Load5, l.Load15, err = parseLoadavg(first(sec["loadavg"])); err != nil {
		return err
	}
	if l.MemTotal, l.MemAvailable, err = parseMeminfo(first(sec["meminfo"])); err != nil {
		return err
	}
	l.MemPercent = memPercent(l.MemTotal, l.MemAvailable)
	if l.CPUs, err = parseCount(first(sec["ncpu"])); err != nil {
		return err
	}
	if st := sec["stat"]; len(st) == 2 {
		a, err1 := parseProcStat(st[0])
		b, err2 := parseProcStat(st[1])
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		l.CPUPercent = cpuPercent(a, b)
	}
	return nil
}

func parseDarwin(l *Load, sec map[string][]string) error {
	var err error
	if l.Load1, l.Load5, l.Load15, l.CPUs, l.MemTotal, err = parseSysctl(first(sec["sysctl"])); err != nil {
		return err
	}
	pageSize, free, inactive, err := parseVMStat(first(sec["vm_stat"]))
	if err != nil {
		return err
	}
	// gopsutil's darwin formula: available = free + inactive pages.
	l.MemAvailable = min((free+inactive)*pageSize, l.MemTotal)
	l.MemPercent = memPercent(l.MemTotal, l.MemAvailable)
	if ps, ok := sec["pscpu"]; ok && l.CPUs > 0 {
		l.CPUPercent = min(sumFloats(first(ps))/float64(l.CPUs), 100)
	}
	return nil
}

// parseOther makes do with uptime's load averages and getconf's CPU count.
func parseOther(l *Load, sec map[string][]string) error {
	up := first(sec["uptime"])
	i := strings.LastIndex(up, "load average")
	if i < 0 {
		return fmt.Errorf("uptime: no load averages in %q", strings.TrimSpace(up))
	}
	_, rest, _ := strings.Cut(up[i:], ":")
	var err error
	if l.Load1, l.Load5, l.Load15, err = parseLoadavg(strings.ReplaceAll(rest, ",", " ")); err != nil {
		return err
	}
	l.CPUs, _ = parseCount(first(sec["ncpu"]))
	return nil
}

// parseLoadavg reads "0.52 0.58 0.59 ..." (/proc/loadavg's first fields).
func parseLoadavg(s string) (l1, l5, l15 float64, err error) {
	f := strings.Fields(s)
	if len(f) < 3 {
		return 0, 0, 0, fmt.Errorf("load averages: want three numbers, got %q", strings.TrimSpace(s))
	}
	var v [3]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			return 0, 0, 0, fmt.Errorf("load averages: %w", err)
		}
	}
	return v[0], v[1], v[2], nil
}

// parseMeminfo reads MemTotal and MemAvailable (in bytes) from /proc/meminfo;
// kernels before 3.14 have no MemAvailable, for which it is estimated as
// MemFree + Buffers + Cached.
func parseMeminfo(s string) (total, avail uint64, err error) {
	kb := make(map[string]uint64)
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		kb[strings.TrimSpace(k)] = n
	}
	total, ok := kb["MemTotal"]
	if !ok || total == 0 {
		return 0, 0, errors.New("meminfo: no MemTotal")
	}
	avail, ok = kb["MemAvailable"]
	if !ok {
		avail = kb["MemFree"] + kb["Buffers"] + kb["Cached"]
	}
	return total * 1024, min(avail, total) * 1024, nil
}

func memPercent(total, avail uint64) float64 {
	if total == 0 {
		return 0
	}
	return float64(total-avail) / float64(total) * 100
}

// parseCount reads a positive whole number (nproc's output).
func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("cpu count: want a positive number, got %q", strings.TrimSpace(s))
	}
	return n, nil
}

// cpuTimes is the aggregate "cpu" line of /proc/stat, in clock ticks.
type cpuTimes struct{ busy, total uint64 }

// parseProcStat reads "cpu  user nice system idle iowait irq softirq steal
// guest guest_nice". Idle time is idle + iowait; guest time is already in
// user, so it is not added again.
func parseProcStat(s string) (cpuTimes, error) {
	f := strings.Fields(s)
	if len(f) < 5 || f[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("/proc/stat: want the cpu line, got %q", strings.TrimSpace(s))
	}
	var v []uint64
	for _, x := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("/proc/stat: %w", err)
		}
		v = append(v, n)
	}
	var t cpuTimes
	for _, n := range v {
		t.total += n
	}
	idle := v[3]
	if len(v) > 4 {
		idle += v[4]
	}
	t.busy = t.total - idle
	return t, nil
}

// cpuPercent is the busy share between two samples.
func cpuPercent(a, b cpuTimes) float64 {
	if b.total <= a.total || b.busy < a.busy {
		return 0
	}
	return min(float64(b.busy-a.busy)/float64(b.total-a.total)*100, 100)
}

// parseSysctl reads `sysctl -n vm.loadavg hw.ncpu hw.memsize`:
// "{ 2.16 2.36 2.42 }", the CPU count and the memory size in bytes.
func parseSysctl(s string) (l1, l5, l15 float64, cpus int, mem uint64, err error) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) != 3 {
		return 0, 0, 0, 0, 0, fmt.Errorf("sysctl: want 3 lines, got %q", s)
	}
	la := strings.Trim(strings.TrimSpace(lines[0]), "{}")
	if l1, l5, l15, err = parseLoadavg(la); err != nil {
		return 0, 0, 0, 0, 0, err
	}
	if cpus, err = parseCount(lines[1]); err != nil {
		return 0, 0, 0, 0, 0, err
	}
	if mem, err = strconv.ParseUint(strings.TrimSpace(lines[2]), 10, 64); err != nil {
		return 0, 0, 0, 0, 0, fmt.Errorf("sysctl: hw.memsize: %w", err)
	}
	return l1, l5, l15, cpus, mem, nil
}

// parseVMStat reads vm_stat's page size and its free and inactive page
// counts.
func parseVMStat(s string) (pageSize, free, inactive uint64, err error) {
	pageSize = 4096
	found := 0
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "page size of "); i >= 0 {
			f := strings.Fields(line[i+len("page size of "):])
			if len(f) > 0 {
				if n, err := strconv.ParseUint(f[0], 10, 64); err == nil {
					pageSize = n
				}
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), "."), 10, 64)
		if err != nil {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Pages free":
			free = n
			found++
		case "Pages inactive":
			inactive = n
			found++
		}
	}
	if found != 2 {
		return 0, 0, 0, errors.New("vm_stat: no \"Pages free\" and \"Pages inactive\" lines")
	}
	return pageSize, free, inactive, nil
}

// sumFloats adds up one number per line, skipping what is not one.
func sumFloats(s string) float64 {
	var sum float64
	for _, f := range strings.Fields(s) {
		if v, err := strconv.ParseFloat(strings.ReplaceAll(f, ",", "."), 64); err == nil {
			sum += v
		}
	}
	return sum
}
