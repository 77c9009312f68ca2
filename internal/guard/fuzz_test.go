package guard

import (
	"strings"
	"testing"

	"github.com/fabric-run/fabric/internal/wire"
)

// FuzzCheck feeds arbitrary commands to the guard: it must never panic and
// must give the same answer twice, in shell and in argv mode, under the
// default policy and in allow-list mode, and judged as a task on a node (in
// "/", with a variable the task defines and the node's environment known).
func FuzzCheck(f *testing.F) {
	for _, tc := range refusedCases {
		f.Add(tc.cmd)
	}
	for _, tc := range allowedCases {
		f.Add(tc.cmd)
	}
	for _, tc := range onNodeCases {
		f.Add(tc.task.Command)
	}
	guards := []*Guard{
		mustNew(f, Policy{}),
		mustNew(f, Policy{AllowList: []string{"make", "go", "bash", "sh"}, DenyList: []string{"curl"}}),
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		for _, g := range guards {
			first := errString(g.Check(cmd))
			if again := errString(g.Check(cmd)); again != first {
				t.Fatalf("Check(%q) = %s, then %s", cmd, first, again)
			}
			argv := strings.Fields(cmd)
			first = errString(g.CheckArgv(argv))
			if again := errString(g.CheckArgv(argv)); again != first {
				t.Fatalf("CheckArgv(%q) = %s, then %s", argv, first, again)
			}
			task := &wire.Task{Command: cmd, Cwd: "/", Env: map[string]string{"D": "/tmp", "OUT": "/"}}
			first = errString(g.CheckOn(&testNode, task))
			if again := errString(g.CheckOn(&testNode, task)); again != first {
				t.Fatalf("CheckOn(%q) = %s, then %s", cmd, first, again)
			}
		}
	})
}
