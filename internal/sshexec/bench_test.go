//go:build unix

package sshexec

import (
	"context"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

func p50(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkPooledVsFreshSSH compares running `true` in a new session of the
// pooled connection with what the seed system did: a new ssh process (TCP
// connect, key exchange, authentication) per command. Both go to the same
// sshd; the fresh ssh trusts the host key the pool recorded. The fresh
// sub-benchmark reports the ratio of the p50 latencies.
func BenchmarkPooledVsFreshSSH(b *testing.B) {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		b.Skip("SKIPPING: ssh client not installed: apt-get install openssh-client")
	}
	sshd := startSSHD(b, sshdOptions{})
	cfg := sshd.testConfig(b)
	cfg.Logger = nil
	p := newTestPool(b, cfg)
	h := sshd.Host()
	ctx := context.Background()
	pooled := func(b *testing.B) time.Duration {
		t0 := time.Now()
		res, err := p.Run(ctx, h, &wire.Task{Command: "true"}, nil)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("pooled true: %+v, %v", res, err)
		}
		return time.Since(t0)
	}
	pooled(b) // connect and record the host key

	var pooledP50 time.Duration
	b.Run("pooled", func(b *testing.B) {
		var d []time.Duration
		for b.Loop() {
			d = append(d, pooled(b))
		}
		pooledP50 = p50(d)
		b.ReportMetric(ms(pooledP50), "p50-ms")
	})
	b.Run("fresh", func(b *testing.B) {
		args := []string{"-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
			"-o", "UserKnownHostsFile=" + cfg.KnownHostsFile, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
			"-o", "LogLevel=ERROR", "-i", sshd.ClientKey, "-p", strconv.Itoa(sshd.Port), "-l", p.cfg.User, "127.0.0.1", "true"}
		var d []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if out, err := exec.Command(sshBin, args...).CombinedOutput(); err != nil {
				b.Fatalf("ssh true: %v: %s", err, out)
			}
			d = append(d, time.Since(t0))
		}
		fresh := p50(d)
		b.ReportMetric(ms(fresh), "p50-ms")
		base := pooledP50
		if base == 0 { // pooled was filtered out: measure it here
			var pd []time.Duration
			for range 20 {
				pd = append(pd, pooled(b))
			}
			base = p50(pd)
		}
		b.ReportMetric(float64(fresh)/float64(base), "fresh/pooled-p50")
	})
}
