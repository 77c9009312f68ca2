package guard

import (
	"errors"
	"testing"
)

func TestAllowList(t *testing.T) {
	g := mustNew(t, Policy{AllowList: []string{"make", "go", "git", "find", "bash", "docker", "ssh"}})
	allowed := []string{
		"make test",
		"/usr/bin/make -j8",
		"./make",
		"cd src && make",
		"echo building; make",
		"FOO=1 make",
		`make VERSION=$(git describe)`,
		"if make; then echo ok; else exit 1; fi",
		"[ -f Makefile ] && make",
		"build() { make; go test ./...; }; build",
		"command -v curl",
		"MAKE=make; $MAKE all",
		"bash -c 'make && go vet ./...'",
		"find . -name '*.go' -exec go vet {} +",
		"docker run --rm alpine curl x", // runs in the container, not on this node
		"ssh host curl x",               // runs on the other host
		"export GOFLAGS=-mod=mod; go build",
	}
	for _, cmd := range allowed {
		if err := g.Check(cmd); err != nil {
			t.Errorf("Check(%q) = %v, want nil", cmd, err)
		}
	}
	refused := []struct{ cmd, reason string }{
		{"curl x", `program "curl" is not on the node's allow list`},
		{"/usr/bin/curl x", `program "curl" is not on the node's allow list`},
		{"make && curl x", `program "curl" is not on the node's allow list`},
		{"make | tee log", `program "tee" is not on the node's allow list`},
		{"echo $(curl x)", `program "curl" is not on the node's allow list`},
		{"bash -c 'curl x'", `program "curl" is not on the node's allow list`},
		{"bash -c 'make; sh -c \"wget x\"'", `program "sh" is not on the node's allow list`},
		{"sudo make", `program "sudo" is not on the node's allow list`},
		{"xargs make", `program "xargs" is not on the node's allow list`},
		{"find . -exec curl {} \\;", `program "curl" is not on the node's allow list`},
		{"source env.sh", `program "source" is not on the node's allow list`},
		{"$CMD", "program name is not a literal"},
		{`"$MAKE" all`, "program name is not a literal"},
		{"$(git rev-parse --show-toplevel)/build.sh", "program name is not a literal"},
		{`bash -c "$SCRIPT"`, "program name is not a literal"},
		{`eval "$X"`, "program name is not a literal"},
		{"curl x | bash", `program "curl" is not on the node's allow list`},
	}
	for _, tc := range refused {
		err := g.Check(tc.cmd)
		var r *Refusal
		if !errors.As(err, &r) || r.Rule != RuleAllowList || r.Reason != tc.reason {
			t.Errorf("Check(%q) = %v, want rule %q with reason %q", tc.cmd, err, RuleAllowList, tc.reason)
		}
	}
}

func TestAllowListDoesNotLiftRules(t *testing.T) {
	g := mustNew(t, Policy{AllowList: []string{"rm", "reboot"}})
	for cmd, rule := range map[string]string{"rm -rf /": RuleRmRoot, "reboot": RulePower} {
		var r *Refusal
		if err := g.Check(cmd); !errors.As(err, &r) || r.Rule != rule {
			t.Errorf("Check(%q) = %v, want rule %q", cmd, err, rule)
		}
	}
}

func TestDenyList(t *testing.T) {
	g := mustNew(t, Policy{DenyList: []string{"curl", "wget", "echo"}})
	refused := []struct{ cmd, fragment string }{
		{"curl -s http://x", "curl -s http://x"},
		{"sudo curl x", "sudo curl x"},
		{"/usr/bin/wget x", "/usr/bin/wget x"},
		{"bash -c 'wget x'", "wget x"},
		{"make && echo $(curl x)", "curl x"},
		{"env A=1 curl x", "env A=1 curl x"},
		{"xargs -n1 curl", "xargs -n1 curl"},
		{"find . -exec wget {} \\;", `find . -exec wget {} \;`},
		{"echo hi", "echo hi"}, // builtins too, when listed
	}
	for _, tc := range refused {
		err := g.Check(tc.cmd)
		var r *Refusal
		if !errors.As(err, &r) || r.Rule != RuleDenyList || r.Fragment != tc.fragment {
			t.Errorf("Check(%q) = %v, want rule %q in %q", tc.cmd, err, RuleDenyList, tc.fragment)
		}
	}
	for _, cmd := range []string{"make", "man curl", "git commit -m curl", "printf curl", "docker run img curl x", "ssh host wget x"} {
		if err := g.Check(cmd); err != nil {
			t.Errorf("Check(%q) = %v, want nil", cmd, err)
		}
	}
	err := g.Check("sudo curl x")
	want := `refused by rule "denylist": program "curl" is on the node's deny list (in: sudo curl x)`
	if err == nil || err.Error() != want {
		t.Errorf("Check(sudo curl x) = %v, want %s", err, want)
	}
}

func TestAllowPower(t *testing.T) {
	g := mustNew(t, Policy{AllowPower: true})
	for _, cmd := range []string{"reboot", "sudo shutdown -h now", "systemctl poweroff", "init 6", "echo b > /proc/sysrq-trigger"} {
		if err := g.Check(cmd); err != nil {
			t.Errorf("Check(%q) = %v, want nil", cmd, err)
		}
	}
}

func TestProtectHome(t *testing.T) {
	off := false
	g := mustNew(t, Policy{ProtectHome: &off})
	for _, cmd := range []string{"rm -rf ~", "rm -rf $HOME/", "rm -rf ~/*", "rm -rf /home/alice", "chmod -R 700 ~"} {
		if err := g.Check(cmd); err != nil {
			t.Errorf("Check(%q) = %v, want nil with ProtectHome false", cmd, err)
		}
	}
	for _, cmd := range []string{"rm -rf /home", "rm -rf /home/*", "rm -rf ~/..", "rm -rf /"} {
		if err := g.Check(cmd); !errors.Is(err, ErrRefused) {
			t.Errorf("Check(%q) = %v, want refusal with ProtectHome false", cmd, err)
		}
	}
	on := true
	g = mustNew(t, Policy{ProtectHome: &on})
	if err := g.Check("rm -rf ~"); !errors.Is(err, ErrRefused) {
		t.Errorf("Check(rm -rf ~) = %v, want refusal with ProtectHome true", err)
	}
}

func TestNewValidates(t *testing.T) {
	bad := []Policy{
		{AllowList: []string{""}},
		{DenyList: []string{"/usr/bin/curl"}},
		{AllowList: []string{"make", "go build"}},
		{DenyList: []string{"cu\x00rl"}},
		{AllowList: []string{".."}},
		{AllowList: []string{"curl"}, DenyList: []string{"curl"}},
	}
	for _, p := range bad {
		g, err := New(p)
		if !errors.Is(err, ErrInvalidPolicy) || g != nil {
			t.Errorf("New(%+v) = %v, %v, want nil, ErrInvalidPolicy", p, g, err)
		}
	}
	if _, err := New(Policy{AllowList: []string{"make", "go", "gcc-13", "python3.12", "x86_64-linux-gnu-gcc"}, DenyList: []string{"curl"}}); err != nil {
		t.Errorf("New(valid) = %v, want nil", err)
	}
}

func TestZeroGuardIsDefault(t *testing.T) {
	var zero Guard
	def := mustNew(t, Policy{})
	for _, tc := range refusedCases {
		if got, want := errString(zero.Check(tc.cmd)), errString(def.Check(tc.cmd)); got != want {
			t.Errorf("Guard{}.Check(%q) = %s, want %s", tc.cmd, got, want)
		}
	}
}

// errString renders an error for comparison, nil included.
func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
