package guard

import (
	"strings"

	"github.com/fabric-run/fabric/internal/shell"
)

// ruleKill refuses kill with pid -1, which signals every process the user
// may signal (as root: every process but init), and killall5, which does the
// same.
func (w *checker) ruleKill(c *shell.Invocation, name string, args []*shell.Arg) {
	if name == "killall5" {
		w.refuse(c, RuleKillAll, "killall5 signals every process on the machine")
		return
	}
	i := 1
	if i < len(args) {
		s, _ := w.lit(args[i])
		switch {
		case s == "-s" || s == "-n" || s == "--signal":
			i += 2 // the signal
		case s == "-l" || s == "-L" || s == "--list" || s == "--table":
			return
		case s != "--" && len(s) > 1 && s[0] == '-':
			i++ // -9, -KILL, -SIGKILL
		}
	}
	for ; i < len(args); i++ {
		s, ok := w.lit(args[i])
		if !ok || s == "--" {
			continue
		}
		if s == "-1" {
			w.refuse(c, RuleKillAll, "kill with pid -1 signals every process this user may signal (as root, every process)")
			return
		}
	}
}

// ruleCrontab refuses crontab -r, which deletes the user's crontab without
// a copy.
func (w *checker) ruleCrontab(c *shell.Invocation, _ string, args []*shell.Arg) {
	for i := 1; i < len(args); i++ {
		s, ok := w.lit(args[i])
		if !ok || len(s) < 2 || s[0] != '-' || strings.HasPrefix(s, "--") {
			continue
		}
		if s == "-u" {
			i++ // the user
			continue
		}
		if strings.ContainsRune(s[1:], 'r') && !strings.HasPrefix(s, "-u") {
			w.refuse(c, RuleCrontab, "crontab -r deletes the user's crontab, with no copy kept")
			return
		}
	}
}
