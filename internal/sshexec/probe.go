package sshexec

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
)

// Load is a host's state as probed over SSH: what a worker's heartbeat
// carries about load.
type Load struct {
	OS   string // Go's name (linux, darwin), "" if unknown
	Arch string // Go's name (amd64, arm64), "" if unknown
	CPUs int
	// Load averages over 1, 5 and 15 minutes.
	Load1, Load5, Load15 float64
	// MemPercent is the share of memory in use: (total - available) / total,
	// as gopsutil computes it on a worker.
	MemPercent float64
	// MemTotal and MemAvailable are in bytes.
	MemTotal, MemAvailable uint64
	// CPUPercent is the busy share of all CPUs. On Linux it is measured
	// over 200 ms (two /proc/stat samples); on macOS it is the sum of ps's
	// per-process %cpu (a decaying average) over the CPU count; elsewhere 0.
	CPUPercent float64
	// ProbedAt is when the probe's answer arrived.
	ProbedAt time.Time
}

// probeScript prints the raw material of a Load in sections headed
// "== name". It is one sh program for every OS, and costs one session.
const probeScript = `{
echo '== uname'; uname -sm
case "$(uname -s)" in
Linux)
  echo '== loadavg'; cat /proc/loadavg
  echo '== meminfo'; cat /proc/meminfo
  echo '== ncpu'; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN
  echo '== stat'; head -n 1 /proc/stat
  sleep 0.2
  echo '== stat'; head -n 1 /proc/stat
  ;;
Darwin)
  echo '== sysctl'; sysctl -n vm.loadavg hw.ncpu hw.memsize
  echo '== vm_stat'; vm_stat
  echo '== pscpu'; ps -A -o %cpu=
  ;;
*)
  echo '== ncpu'; getconf _NPROCESSORS_ONLN 2>/dev/null || getconf NPROCESSORS_ONLN 2>/dev/null
  echo '== uptime'; uptime
  ;;
esac
}
`

// Probe measures h's load over its pooled connection (dialling it if need
// be), in one session. The caller bounds it with ctx (the seed's status
// timeout) and caches the answer as it sees fit.
func (p *Pool) Probe(ctx context.Context, h Host) (Load, error) {
	h, err := h.complete(&p.cfg)
	if err != nil {
		return Load{}, err
	}
	hc, ctx, leave, err := p.enter(ctx, h, "probe: ")
	if err != nil {
		return Load{}, err
	}
	defer leave()
	for attempt := 0; ; attempt++ {
		s, err := p.connect(ctx, hc)
		if err != nil {
			return Load{}, p.ctxErr(err)
		}
		hc.mu.Lock()
		hc.sessions++
		hc.lastUsed = time.Now()
		hc.mu.Unlock()
		out, stderr, err := s.runScript(ctx, probeScript, p.cfg.HandshakeTimeout)
		if err != nil && attempt == 0 && ctx.Err() == nil && s.isBroken(err) {
			s.close()
			hc.lost(s, err)
			continue
		}
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			err = nil // a step failed: what the others printed may do
		}
		if err != nil {
			if stderr != "" {
				err = fmt.Errorf("%w: %s", err, stderr)
			}
			return Load{}, fmt.Errorf("ssh %s: probe: %w", h.Name, p.ctxErr(err))
		}
		l, err := parseProbe(out)
		if err != nil {
			return Load{}, fmt.Errorf("ssh %s: probe: %w", h.Name, err)
		}
		l.ProbedAt = time.Now()
		return l, nil
	}
}
