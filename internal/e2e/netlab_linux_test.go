//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fabric-run/fabric/internal/fabrictest"
)

// netnsPrefix starts the name of every network namespace these tests make,
// followed by the test process's pid, so leftovers of a killed run can be
// told apart from everything else on the machine.
const netnsPrefix = "fabric-e2e-"

// netLab is a private network for one test: a "switch" namespace holding a
// Linux bridge, and one namespace per host, each joined to the bridge by a
// veth pair (eth0 on the host side, v-NAME on the switch side) and given an
// address in a /24 the lab alone uses. Nothing is created outside these
// namespaces, and deleting them (in the test's Cleanup, even on failure)
// deletes every interface with them.
type netLab struct {
	t      *testing.T
	ip     string // path of iproute2's ip
	prefix string
	sw     string            // the switch namespace
	hosts  map[string]string // host name → namespace
	order  []string          // namespaces to delete, in creation order
}

// newNetLab makes the switch namespace and its bridge. Where network
// namespaces cannot be made, it skips the test saying why, or fails it
// under CI (fabrictest.Need).
func newNetLab(t *testing.T) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		fabrictest.Need(t, "root, to make network namespaces, veth pairs and a bridge", errors.New("not running as root (run the e2e tests as root to include it)"))
	}
	ip, err := exec.LookPath("ip")
	fabrictest.Need(t, "iproute2's ip (Debian: apt-get install iproute2)", err)
	sweepLeftoverNamespaces(t, ip)
	l := &netLab{t: t, ip: ip, prefix: fmt.Sprintf("%s%d-", netnsPrefix, os.Getpid()), hosts: map[string]string{}}
	l.sw = l.prefix + "sw"
	if out, err := exec.Command(ip, "netns", "add", l.sw).CombinedOutput(); err != nil {
		fabrictest.Need(t, "network namespaces (ip netns add)", fmt.Errorf("%w: %s", err, bytes.TrimSpace(out)))
	}
	l.order = append(l.order, l.sw)
	t.Cleanup(l.destroy)
	if out, err := l.try("-n", l.sw, "link", "add", "br0", "type", "bridge"); err != nil {
		fabrictest.Need(t, "a Linux bridge", fmt.Errorf("%w: %s", err, out))
	}
	l.must("-n", l.sw, "link", "set", "br0", "up")
	return l
}

// addHost makes a namespace for host with address addr (in a /24) on the
// bridge.
func (l *netLab) addHost(host, addr string) {
	l.t.Helper()
	ns := l.prefix + host
	l.must("netns", "add", ns)
	l.order = append(l.order, ns)
	l.hosts[host] = ns
	if out, err := l.try("-n", l.sw, "link", "add", l.port(host), "type", "veth", "peer", "name", "eth0", "netns", ns); err != nil {
		fabrictest.Need(l.t, "a veth pair", fmt.Errorf("%w: %s", err, out))
	}
	l.must("-n", l.sw, "link", "set", l.port(host), "master", "br0", "up")
	l.must("-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
	l.must("-n", ns, "link", "set", "eth0", "up")
	l.must("-n", ns, "link", "set", "lo", "up")
}

// port is the switch-side end of host's veth pair.
func (l *netLab) port(host string) string { return "v-" + host }

// cut pulls host's cable: its port on the switch goes down, so its packets
// go nowhere and nothing tells its connections so.
func (l *netLab) cut(host string) { l.must("-n", l.sw, "link", "set", l.port(host), "down") }

// restore plugs host's cable back in.
func (l *netLab) restore(host string) { l.must("-n", l.sw, "link", "set", l.port(host), "up") }

// in returns argv run inside host's namespace.
func (l *netLab) in(host string, argv ...string) []string {
	return append([]string{l.ip, "netns", "exec", l.hosts[host]}, argv...)
}

// start runs argv in host's namespace as a long-lived process.
func (l *netLab) start(host string, env []string, argv ...string) *proc {
	l.t.Helper()
	a := l.in(host, argv...)
	return start(l.t, env, a[0], a[1:]...)
}

func (l *netLab) try(args ...string) (string, error) {
	out, err := exec.Command(l.ip, args...).CombinedOutput()
	return string(bytes.TrimSpace(out)), err
}

func (l *netLab) must(args ...string) {
	l.t.Helper()
	if out, err := l.try(args...); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// destroy deletes the namespaces, the hosts first; their interfaces go
// with them. Processes still inside keep a namespace alive until they
// exit, so the test stops its processes first (Cleanup runs last in, first
// out, and the lab is made before any process).
func (l *netLab) destroy() {
	for i := len(l.order) - 1; i >= 0; i-- {
		if out, err := l.try("netns", "del", l.order[i]); err != nil {
			l.t.Errorf("cleanup: ip netns del %s: %v: %s", l.order[i], err, out)
		}
	}
}

// sweepLeftoverNamespaces deletes namespaces of earlier runs of these tests
// that were killed before their Cleanup: those named netnsPrefix+PID- whose
// PID is no longer running. Nothing else is touched.
func sweepLeftoverNamespaces(t *testing.T, ip string) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), netnsPrefix)
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", pidText)); err == nil {
			continue // its test run is still going
		}
		if out, err := exec.Command(ip, "netns", "del", e.Name()).CombinedOutput(); err != nil {
			t.Logf("leftover namespace %s: %v: %s", e.Name(), err, out)
		} else {
			t.Logf("deleted leftover namespace %s of an earlier, killed run (pid %d)", e.Name(), pid)
		}
	}
}

// netnsDialer dials TCP from inside a network namespace, for a client that
// lives in the test process. Each dial runs on a goroutine locked to its
// own OS thread, which enters the namespace and makes the socket there (a
// socket stays in the namespace it was made in); the goroutine then exits
// still locked, so the runtime discards that thread instead of reusing it
// in the wrong namespace.
type netnsDialer struct {
	ns string // namespace name, under /run/netns
}

// Dial implements nats.CustomDialer.
func (d netnsDialer) Dial(network, address string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open(filepath.Join("/run/netns", d.ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: fmt.Errorf("open namespace %s: %w", d.ns, err)}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("enter namespace %s: %w", d.ns, err)}
			return
		}
		c, err := net.DialTimeout(network, address, 2*time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
