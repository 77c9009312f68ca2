package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/fabric-run/fabric/internal/runner"
)

// Machine describes where a run happened.
type Machine struct {
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model,omitempty"`
	MemoryMB int64  `json:"memory_mib,omitempty"`
	Go       string `json:"go"`
	Shell    string `json:"shell,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	// Load1Start and Load1End are the machine's 1-minute load average when
	// the run started and ended: other work skews every number.
	Load1Start float64 `json:"load1_start"`
	Load1End   float64 `json:"load1_end"`
}

func load1() float64 {
	if a, err := load.Avg(); err == nil {
		return a.Load1
	}
	return 0
}

func thisMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if info, err := cpu.Info(); err == nil && len(info) > 0 {
		m.CPUModel = info[0].ModelName
	}
	if v, err := mem.VirtualMemory(); err == nil {
		m.MemoryMB = int64(v.Total >> 20)
	}
	m.Hostname, _ = os.Hostname()
	m.Shell = runner.DefaultShell()
	m.Load1Start = load1()
	return m
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("bench: write json: %w", err)
	}
	return nil
}

// WriteTable writes the report as a table for people, then the notes.
func WriteTable(w io.Writer, r *Report) error {
	mode := "full"
	if r.Short {
		mode = "short"
	}
	m := r.Machine
	fmt.Fprintf(w, "fabric bench (%s run, %s) on %s/%s, %d CPUs %s, %d MiB, %s, shell %s; load average %.1f at start, %.1f at end\n\n",
		mode, r.Took.Round(time.Second), m.OS, m.Arch, m.CPUs, m.CPUModel, m.MemoryMB, m.Go, m.Shell, m.Load1Start, m.Load1End)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tMEASURE\tP50\tP99\tVALUE\tBASELINE\tRATIO\tTARGET\tRESULT")
	var notes []string
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Scenario, x.Measure, dur(x.P50), dur(x.P99),
			value(x.Value, x.Unit), baseline(x.Baseline), ratio(x.Ratio, x.RatioP99), x.Target, x.Status)
		if x.Notes != "" {
			notes = append(notes, fmt.Sprintf("%s, %s: %s", x.Scenario, x.Measure, x.Notes))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: write table: %w", err)
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nnotes:\n  %s\n", strings.Join(notes, "\n  "))
	}
	return nil
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(10 * time.Millisecond).String()
}

func value(v float64, unit string) string {
	if unit == "" {
		return "-"
	}
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}

func baseline(b *Baseline) string {
	if b == nil {
		return "-"
	}
	var parts []string
	if b.P50 != 0 {
		parts = append(parts, "p50 "+dur(b.P50))
	}
	if b.P99 != 0 {
		parts = append(parts, "p99 "+dur(b.P99))
	}
	if b.Unit != "" {
		parts = append(parts, value(b.Value, b.Unit))
	}
	return b.Name + ": " + strings.Join(parts, " ")
}

// ratio shows a ratio, or the p50 and p99 ratios of a latency.
func ratio(r, p99 float64) string {
	switch {
	case r == 0:
		return "-"
	case p99 != 0:
		return fmt.Sprintf("%.2f / %.2f", r, p99)
	}
	return fmt.Sprintf("%.2f", r)
}
