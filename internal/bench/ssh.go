package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/inventory"
	"github.com/fabric-run/fabric/internal/sshd"
	"github.com/fabric-run/fabric/internal/sshexec"
	"github.com/fabric-run/fabric/internal/wire"
)

// Targets of the SSH scenarios.
const (
	sshSpeedupTarget = 100 // scenario 2: fabric p50 at least this much faster than a new ssh(1) connection
	sshPooledTarget  = 1.2 // scenario 3: fabric's SSH path over a bare x/crypto session on one connection
	sshVsFreshTarget = 20  // scenario 3: fabric's SSH path faster than a new ssh(1) connection by this
)

// sshBench is a real sshd on loopback and what talks to it.
type sshBench struct {
	srv        *sshd.Server
	dir        string
	knownHosts string
	user       string
}

// startSSH starts sshd, or says why the scenario is skipped.
func startSSH() (*sshBench, error) {
	if _, err := exec.LookPath("ssh"); err != nil {
		return nil, &skipError{why: "no ssh client (apt-get install openssh-client)"}
	}
	dir, err := os.MkdirTemp("", "fabric-bench-sshd-")
	if err != nil {
		return nil, err
	}
	srv, err := sshd.Start(dir, sshd.Options{})
	if err != nil {
		os.RemoveAll(dir)
		if errors.Is(err, sshd.ErrNotInstalled) {
			return nil, &skipError{why: err.Error()}
		}
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		srv.Stop()
		os.RemoveAll(dir)
		return nil, err
	}
	return &sshBench{srv: srv, dir: dir, knownHosts: filepath.Join(dir, "known_hosts"), user: u.Username}, nil
}

func (b *sshBench) close() {
	b.srv.Stop()
	os.RemoveAll(b.dir)
}

// fresh runs `true` with ssh(1), a new connection each time (the old way).
func (b *sshBench) fresh(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
		"-o", "UserKnownHostsFile="+b.knownHosts, "-o", "IdentitiesOnly=yes", "-o", "ControlMaster=no",
		"-i", b.srv.ClientKey, "-p", strconv.Itoa(b.srv.Port), b.user+"@127.0.0.1", "true")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ssh true: %w: %s", err, out)
	}
	return nil
}

// bare returns a function running `true` in a new session on one x/crypto
// connection: the least any SSH path can cost.
func (b *sshBench) bare() (func() error, func(), error) {
	key, err := os.ReadFile(b.srv.ClientKey)
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	client, err := ssh.Dial("tcp", b.srv.Addr(), &ssh.ClientConfig{
		User: b.user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(b.srv.HostKeys[0].PublicKey()), Timeout: 5 * time.Second,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bare ssh: %w", err)
	}
	run := func() error {
		s, err := client.NewSession()
		if err != nil {
			return err
		}
		defer s.Close()
		return s.Run("true")
	}
	return run, func() { client.Close() }, nil
}

// sshFrontend is a front end whose only node is the sshd, over the pooled
// SSH path.
func (b *sshBench) frontend(ctx context.Context, c *cluster) (*frontend.Service, error) {
	cfg := sshexec.DefaultConfig()
	cfg.KnownHostsFile = b.knownHosts
	cfg.IdentityFiles = []string{b.srv.ClientKey}
	cfg.AgentSocket = ""
	nc, err := c.connect("fabric (ssh)")
	if err != nil {
		return nil, err
	}
	fe, err := frontend.New(nc, frontend.Config{SSHNodes: []inventory.Node{{
		Name: "sshbox", Host: "127.0.0.1", Port: b.srv.Port, User: b.user, OS: "linux", Arch: "amd64", Slots: 4,
	}}, SSH: cfg, NoSync: true, Logger: c.e.log})
	if err != nil {
		return nil, err
	}
	c.onClose(fe.Close)
	if err := fe.Start(ctx); err != nil {
		return nil, err
	}
	return fe, nil
}

// runOn runs `true` on node through fe.
func runOn(ctx context.Context, fe *frontend.Service, node string) error {
	out, err := fe.Run(ctx, frontend.Request{Task: wire.Task{Command: "true", Requires: wire.Requirements{Node: node}}}, nil)
	if err != nil {
		return fmt.Errorf("fabric run on %s: %w", node, err)
	}
	if r := out.Result; !r.Succeeded() {
		return fmt.Errorf("fabric run on %s: %+v", node, r)
	}
	return nil
}

// sshRuns is how many new-connection ssh(1) runs a measure takes: each
// costs a whole handshake and login.
func (s sizes) sshRuns() int {
	if s.latencyRuns <= 20 {
		return 5
	}
	return 40
}

// runSSHLatency is scenario 2: `true` through the fabric (a worker over
// NATS) against the old way, `ssh host true` with a new connection each time.
func runSSHLatency(ctx context.Context, e *env) ([]Result, error) {
	b, err := startSSH()
	if err != nil {
		return nil, err
	}
	defer b.close()
	c, fe, err := e.oneNode(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	times, err := interleave(ctx, []func() error{
		func() error { return runTrue(ctx, fe, "true") },
		func() error { return b.fresh(ctx) },
	}, 2, e.sizes.sshRuns())
	if err != nil {
		return nil, err
	}
	return []Result{speedup("fabric `true` vs ssh -o BatchMode=yes 127.0.0.1 true (new connection each)",
		times[0], times[1], "ssh(1)", sshSpeedupTarget,
		fmt.Sprintf("%d runs each, in turns; fabric runs it on a worker over NATS", len(times[0])))}, nil
}

// runSSHFallback is scenario 3: the fabric's own SSH path (a machine that
// runs no worker, reached over its pooled connection) against a bare
// x/crypto session on one connection, and against ssh(1).
func runSSHFallback(ctx context.Context, e *env) ([]Result, error) {
	b, err := startSSH()
	if err != nil {
		return nil, err
	}
	defer b.close()
	c, err := e.newCluster()
	if err != nil {
		return nil, err
	}
	defer c.close()
	fe, err := b.frontend(ctx, c)
	if err != nil {
		return nil, err
	}
	bare, closeBare, err := b.bare()
	if err != nil {
		return nil, err
	}
	defer closeBare()
	viaFabric := func() error { return runOn(ctx, fe, "sshbox") }
	runs := min(e.sizes.latencyRuns, 200)
	pooled, err := interleave(ctx, []func() error{viaFabric, bare}, e.sizes.latencyWarm, runs)
	if err != nil {
		return nil, err
	}
	vsBare := against("fabric over its SSH path vs a bare x/crypto/ssh session on one connection", pooled[0], "bare session", pooled[1])
	vsBare.Target, vsBare.Status = fmt.Sprintf("p50 ≤ %.1f×", sshPooledTarget), verdict(vsBare.Ratio <= sshPooledTarget)
	vsBare.Notes = fmt.Sprintf("%d runs each, in turns; the fabric adds routing, its record of the task, cwd/env/timeout handling and a process group it can kill", runs)
	fresh, err := interleave(ctx, []func() error{viaFabric, func() error { return b.fresh(ctx) }}, 2, e.sizes.sshRuns())
	if err != nil {
		return nil, err
	}
	return []Result{vsBare, speedup("fabric over its SSH path vs ssh(1), a new connection each", fresh[0], fresh[1],
		"ssh(1)", sshVsFreshTarget, fmt.Sprintf("%d runs each, in turns", len(fresh[0])))}, nil
}

// speedup reports a latency that must beat a baseline by a factor.
func speedup(measure string, fabric, base []time.Duration, name string, factor float64, notes string) Result {
	r := against(measure, fabric, name, base)
	r.Target = fmt.Sprintf("p50 ≥ %.0f× faster (ratio ≤ %.3f)", factor, 1/factor)
	r.Status = verdict(r.Ratio > 0 && 1/r.Ratio >= factor)
	r.Notes = fmt.Sprintf("%s; fabric is %.0f× faster at p50", notes, 1/max(r.Ratio, 1e-9))
	return r
}
