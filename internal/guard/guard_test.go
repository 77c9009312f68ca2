package guard

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/fabric-run/fabric/internal/shell"
)

func TestRefusalText(t *testing.T) {
	g := mustNew(t, Policy{})
	tests := []struct{ cmd, want string }{
		{"rm -rf /", `refused by rule "rm-root": recursive forced delete of "/" (in: rm -rf /)`},
		{"sudo rm -r /etc", `refused by rule "rm-root": recursive delete of "/etc" (in: sudo rm -r /etc)`},
		{"make && rm -rf ~/", `refused by rule "rm-root": recursive forced delete of "~/" (in: rm -rf ~/)`},
		{"cd / && rm -rf *", `refused by rule "rm-root": recursive forced delete of "/*" (in: rm -rf *)`},
		{"rm --no-preserve-root -rf /", `refused by rule "rm-root": --no-preserve-root lets rm delete "/" (in: rm --no-preserve-root -rf /)`},
		{"find / -delete", `refused by rule "rm-root": find -delete of everything under "/" (in: find / -delete)`},
		{"$X -rf /usr", `refused by rule "rm-root": recursive forced delete of "/usr" by a program whose name is not a literal (in: $X -rf /usr)`},
		{"bash -c 'cd /tmp; rm -rf /'", `refused by rule "rm-root": recursive forced delete of "/" (in: rm -rf /)`},
		{":(){ :|:& };:", `refused by rule "fork-bomb": function ":" calls itself in a pipeline, in the background or in a subshell (in: :(){ :|:& })`},
		{"cat x.img > /dev/sda", `refused by rule "block-device": write to block device "/dev/sda" (in: cat x.img > /dev/sda)`},
		{"dd if=x.img of=/dev/nvme0n1 bs=4M", `refused by rule "block-device": write to block device "/dev/nvme0n1" (in: dd if=x.img of=/dev/nvme0n1 bs=4M)`},
		{"shred /dev/sdb", `refused by rule "block-device": shred of block device "/dev/sdb" (in: shred /dev/sdb)`},
		{"mkfs.ext4 /dev/sdb1", `refused by rule "disk-format": mkfs.ext4 formats or wipes "/dev/sdb1" (in: mkfs.ext4 /dev/sdb1)`},
		{"parted -s /dev/sda mklabel gpt", `refused by rule "disk-format": parted can rewrite a disk's partition table (in: parted -s /dev/sda mklabel gpt)`},
		{"chmod -R 777 /", `refused by rule "chmod-root": recursive chmod of "/" (in: chmod -R 777 /)`},
		{"reboot", `refused by rule "power": reboot stops or restarts the machine (power commands are not allowed on this node) (in: reboot)`},
		{"systemctl --force poweroff", `refused by rule "power": systemctl poweroff stops or restarts the machine (power commands are not allowed on this node) (in: systemctl --force poweroff)`},
		{`echo "x`, "refused by rule \"parse\": 1:6: reached EOF without closing quote `\"` (in: echo \"x)"},
		{`sh -c 'if true; then'`, "refused by rule \"parse\": 1:10: `then` must be followed by a statement list (in: if true; then)"},
	}
	for _, tc := range tests {
		if got := errString(g.Check(tc.cmd)); got != tc.want {
			t.Errorf("Check(%q) = %s\nwant %s", tc.cmd, got, tc.want)
		}
	}
}

func TestRefusalError(t *testing.T) {
	r := &Refusal{Rule: RuleComplexity, Reason: "too deep"}
	if got, want := r.Error(), `refused by rule "complexity": too deep`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(r, ErrRefused) {
		t.Errorf("errors.Is(%v, ErrRefused) = false, want true", r)
	}
}

func TestLongFragmentIsShortened(t *testing.T) {
	g := mustNew(t, Policy{})
	cmd := "rm -rf /tmp/" + strings.Repeat("a", 300) + " /\nmake"
	var r *Refusal
	if err := g.Check(cmd); !errors.As(err, &r) {
		t.Fatalf("Check(long) = %v, want refusal", err)
	}
	if len(r.Fragment) > maxFragment+3 || !strings.HasSuffix(r.Fragment, "...") || !strings.HasPrefix(r.Fragment, "rm -rf /tmp/aaa") {
		t.Errorf("Fragment = %q (%d bytes), want a shortened prefix of the command", r.Fragment, len(r.Fragment))
	}
	if err := g.Check("echo 'a\nb' ; rm -rf /"); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("Check(multi-line) = %v, want a one-line refusal", err)
	}
}

func TestCheckArgv(t *testing.T) {
	g := mustNew(t, Policy{})
	tests := []struct {
		argv []string
		want string // rule, "" for allowed
	}{
		{[]string{"rm", "-rf", "/"}, RuleRmRoot},
		{[]string{"/bin/rm", "-r", "--", "/usr"}, RuleRmRoot},
		{[]string{"sudo", "rm", "-rf", "/*"}, RuleRmRoot},
		{[]string{"bash", "-c", "rm -rf /"}, RuleRmRoot},
		{[]string{"sh", "-c", "rm -rf $HOME"}, RuleRmRoot},
		{[]string{"dd", "if=/dev/zero", "of=/dev/sda"}, RuleBlockDevice},
		{[]string{"mkfs.xfs", "/dev/sdb"}, RuleDiskFormat},
		{[]string{"chown", "-R", "nobody", "/"}, RuleChmodRoot},
		{[]string{"sudo", "reboot"}, RulePower},
		{[]string{"bash", "-c", ":(){ :|:& };:"}, RuleForkBomb},
		{[]string{"bash", "-c", "echo 'x"}, RuleParse},
		{[]string{}, RuleParse},
		{[]string{""}, RuleParse},
		// No shell: no expansion, these name files called ~ and $HOME.
		{[]string{"rm", "-rf", "~"}, ""},
		{[]string{"rm", "-rf", "$HOME"}, ""},
		{[]string{"echo", "rm -rf /"}, ""},
		{[]string{"make", "-j8", "test"}, ""},
		{[]string{"go", "test", "./..."}, ""},
		{[]string{"rm", "-rf", "build"}, ""},
	}
	for _, tc := range tests {
		err := g.CheckArgv(tc.argv)
		var r *Refusal
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckArgv(%q) = %v, want nil", tc.argv, err)
		case tc.want != "" && (!errors.As(err, &r) || r.Rule != tc.want):
			t.Errorf("CheckArgv(%q) = %v, want rule %q", tc.argv, err, tc.want)
		}
	}
	err := g.CheckArgv([]string{"rm", "-rf", "/", "my file"})
	if want := `refused by rule "rm-root": recursive forced delete of "/" (in: rm -rf / 'my file')`; errString(err) != want {
		t.Errorf("CheckArgv = %v, want %s", err, want)
	}
	allow := mustNew(t, Policy{AllowList: []string{"make"}})
	if err := allow.CheckArgv([]string{"/usr/bin/curl", "x"}); errString(err) != `refused by rule "allowlist": program "curl" is not on the node's allow list (in: /usr/bin/curl x)` {
		t.Errorf("CheckArgv(curl) in allow-list mode = %v", err)
	}
	if err := allow.CheckArgv([]string{"/usr/bin/make", "all"}); err != nil {
		t.Errorf("CheckArgv(/usr/bin/make) in allow-list mode = %v, want nil", err)
	}
}

// TestConcurrentChecks runs one Guard from many goroutines (meant for -race)
// and expects the answers a single goroutine gets.
func TestConcurrentChecks(t *testing.T) {
	g := mustNew(t, Policy{DenyList: []string{"curl"}})
	var cmds []string
	for _, tc := range refusedCases {
		cmds = append(cmds, tc.cmd)
	}
	for _, tc := range allowedCases {
		cmds = append(cmds, tc.cmd)
	}
	want := make([]string, len(cmds))
	for i, cmd := range cmds {
		want[i] = errString(g.Check(cmd))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for i, cmd := range cmds {
				if got := errString(g.Check(cmd)); got != want[i] {
					select {
					case errs <- cmd + ": " + got + ", want " + want[i]:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestBudget(t *testing.T) {
	g := mustNew(t, Policy{})
	// Every assignment doubles the values $A may take, until the guard stops
	// listing them; using it where it matters is then refused, not guessed.
	cmd := "A=x; " + strings.Repeat("A=$A$A; A=y$A; ", 8) + "rm -rf $A"
	var r *Refusal
	if err := g.Check(cmd); !errors.As(err, &r) || r.Rule != RuleComplexity {
		t.Errorf("Check(exploding variable) = %v, want rule %q", err, RuleComplexity)
	}
	// The same variable where no rule looks at it is fine.
	cmd = "A=x; " + strings.Repeat("A=$A$A; A=y$A; ", 8) + "echo $A"
	if err := g.Check(cmd); err != nil {
		t.Errorf("Check(exploding variable echoed) = %v, want nil", err)
	}
	// A huge command is refused rather than checked for ever.
	if err := g.Check(strings.Repeat("echo hi; ", shell.WorkBudget/8)); !errors.As(err, &r) || r.Rule != RuleComplexity {
		t.Errorf("Check(huge) = %v, want rule %q", err, RuleComplexity)
	}
}
