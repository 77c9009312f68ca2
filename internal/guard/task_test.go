package guard

import (
	"errors"
	"strings"
	"testing"

	"github.com/fabric-run/fabric/internal/wire"
)

// testNode is a node whose user's home is /home/n, with a usual environment.
var testNode = Node{Home: "/home/n", Env: []string{"HOME=/home/n", "PATH=/usr/bin:/bin", "TMPDIR=/tmp", "USER=n"}}

// taskCase is a task and the rule that must refuse it ("" for allowed).
type taskCase struct {
	name string
	task wire.Task
	rule string
}

// onNodeCases are judged by the node's guard (CheckOn on testNode).
var onNodeCases = []taskCase{
	// The working directory: the task contract's default is the home.
	{"no cwd glob", wire.Task{Command: "rm -rf *"}, RuleRmRoot},
	{"no cwd dot", wire.Task{Command: "rm -rf ."}, RuleRmRoot},
	{"no cwd dotfiles", wire.Task{Command: "rm -rf .[!.]* *"}, RuleRmRoot},
	{"no cwd parent", wire.Task{Command: "rm -rf ../*"}, RuleRmRoot},
	{"tilde cwd", wire.Task{Command: "rm -rf ./*", Cwd: "~"}, RuleRmRoot},
	{"home cwd by path", wire.Task{Command: "rm -r *", Cwd: "/home/n"}, RuleRmRoot},
	{"root cwd", wire.Task{Command: "rm -rf *", Cwd: "/"}, RuleRmRoot},
	{"system cwd", wire.Task{Command: "rm -rf *", Cwd: "/usr"}, RuleRmRoot},
	{"system cwd dot", wire.Task{Command: "rm -rf .", Cwd: "/etc/"}, RuleRmRoot},
	{"relative cwd above home", wire.Task{Command: "rm -rf *", Cwd: "src/.."}, RuleRmRoot},
	{"chmod in root cwd", wire.Task{Command: "chmod -R 777 .", Cwd: "/"}, RuleChmodRoot},
	{"find in root cwd", wire.Task{Command: "find . -name '*.log' -delete", Cwd: "/"}, RuleRmRoot},
	{"argv in root cwd", wire.Task{Argv: []string{"rm", "-rf", "."}, Cwd: "/"}, RuleRmRoot},
	{"argv with no cwd", wire.Task{Argv: []string{"rm", "-rf", "."}}, RuleRmRoot},
	{"bash -c in home", wire.Task{Command: "bash -c 'rm -rf *'"}, RuleRmRoot},

	// The task's environment: its values.
	{"env root glob", wire.Task{Command: `rm -rf "$D"/*`, Env: map[string]string{"D": "/"}}, RuleRmRoot},
	{"env root", wire.Task{Command: "rm -rf $D", Env: map[string]string{"D": "/usr"}}, RuleRmRoot},
	{"env in bash -c", wire.Task{Command: `bash -c 'rm -rf "$D"/*'`, Env: map[string]string{"D": "/"}}, RuleRmRoot},
	{"env device", wire.Task{Command: `dd if=img of="$DEV"`, Env: map[string]string{"DEV": "/dev/sda"}}, RuleBlockDevice},
	{"env program", wire.Task{Command: "$CMD /", Env: map[string]string{"CMD": "rm -rf"}}, RuleRmRoot},

	// The task's environment: variables that run code.
	{"BASH_ENV", wire.Task{Command: "make", Env: map[string]string{"BASH_ENV": "/tmp/x.sh"}}, RuleEnv},
	{"ENV", wire.Task{Command: "make", Env: map[string]string{"ENV": "/tmp/x.sh"}}, RuleEnv},
	{"LD_PRELOAD", wire.Task{Command: "make", Env: map[string]string{"LD_PRELOAD": "/tmp/x.so"}}, RuleEnv},
	{"LD_LIBRARY_PATH", wire.Task{Command: "make", Env: map[string]string{"LD_LIBRARY_PATH": "/tmp"}}, RuleEnv},
	{"PROMPT_COMMAND", wire.Task{Command: "make", Env: map[string]string{"PROMPT_COMMAND": "rm -rf ~"}}, RuleEnv},
	{"SHELLOPTS", wire.Task{Command: "make", Env: map[string]string{"SHELLOPTS": "xtrace"}}, RuleEnv},
	{"BASHOPTS", wire.Task{Command: "make", Env: map[string]string{"BASHOPTS": "extdebug"}}, RuleEnv},
	{"LD_AUDIT", wire.Task{Command: "make", Env: map[string]string{"LD_AUDIT": "/tmp/x.so"}}, RuleEnv},
	{"exported function", wire.Task{Command: "ls", Env: map[string]string{"BASH_FUNC_ls%%": "() { rm -rf ~; }"}}, RuleEnv},
	{"code env with argv", wire.Task{Argv: []string{"make"}, Env: map[string]string{"LD_PRELOAD": "/tmp/x.so"}}, RuleEnv},

	// Unset variables (SC2115): the node knows the whole environment.
	{"unset glob", wire.Task{Command: `rm -rf "$OUT"/*`}, RuleUnsetVar},
	{"unset slash", wire.Task{Command: "rm -rf $OUT/"}, RuleUnsetVar},
	{"unset braces", wire.Task{Command: `rm -rf "${OUT}/build"`}, RuleUnsetVar},
	{"unset alone", wire.Task{Command: `rm -r "$OUT"`}, RuleUnsetVar},
	{"unset through a variable", wire.Task{Command: `X="$OUT/a"; rm -rf "$X"`}, RuleUnsetVar},
	{"unset on one branch", wire.Task{Command: `if make; then OUT=build; fi; rm -rf "$OUT"/*`}, RuleUnsetVar},
	{"unset in bash -c", wire.Task{Command: `bash -c 'rm -rf "$OUT"/*'`}, RuleUnsetVar},
	{"unset in double-quoted bash -c", wire.Task{Command: `bash -c "rm -rf $OUT/*"`}, RuleUnsetVar},
	{"unset with sudo", wire.Task{Command: `sudo rm -rf "$OUT"/x`}, RuleUnsetVar},
	{"unset in argv bash -c", wire.Task{Argv: []string{"bash", "-c", `rm -rf "$OUT"/*`}}, RuleUnsetVar},
	{"unset rsync destination", wire.Task{Command: `rsync -a --delete ./x/ "$DEST"/`}, RuleUnsetVar},
	{"unset in task env elsewhere", wire.Task{Command: `rm -rf "$OUT"/*`, Env: map[string]string{"OTHER": "/tmp"}}, RuleUnsetVar},

	// Near misses: allowed.
	{"guarded unset", wire.Task{Command: `rm -rf "${OUT:?}"/*`}, ""},
	{"guarded unset with message", wire.Task{Command: `rm -rf "${OUT:?set OUT}"/build`}, ""},
	{"default for unset", wire.Task{Command: `rm -rf "${OUT:-/tmp/out}"/*`}, ""},
	{"defined by the task", wire.Task{Command: `rm -rf "$OUT"/*`, Env: map[string]string{"OUT": "/tmp/out"}}, ""},
	{"defined by the node", wire.Task{Command: `rm -rf "$TMPDIR"/build`}, ""},
	{"assigned by the command", wire.Task{Command: `OUT=$(mktemp -d); rm -rf "$OUT"/*`}, ""},
	{"exported by the command", wire.Task{Command: `export OUT=/tmp/o; rm -rf "$OUT"/*`}, ""},
	{"loop variable", wire.Task{Command: `for d in a b; do rm -rf "$d"/x; done`}, ""},
	{"positional parameter", wire.Task{Command: `clean() { rm -rf "$1"/x; }; clean build`}, ""},
	{"HOME defined", wire.Task{Command: `rm -rf "$HOME/project/build"`}, ""},
	{"unset not recursive", wire.Task{Command: `rm -f "$OUT"/x.log`}, ""},
	{"unset echoed", wire.Task{Command: `echo "$OUT"/*`}, ""},
	{"relative with project cwd", wire.Task{Command: "rm -rf ./build", Cwd: "/home/n/project"}, ""},
	{"glob in project cwd", wire.Task{Command: "rm -rf *", Cwd: "~/project"}, ""},
	{"glob in relative cwd", wire.Task{Command: "rm -rf *", Cwd: "project"}, ""},
	{"glob in tmp cwd", wire.Task{Command: "rm -rf *", Cwd: "/tmp/build"}, ""},
	{"relative in home", wire.Task{Command: "rm -rf ./build"}, ""},
	{"cd then glob", wire.Task{Command: "cd build && rm -rf *"}, ""},
	{"find in home", wire.Task{Command: "find . -name '*.o' -delete"}, ""},
	{"harmless env", wire.Task{Command: "make", Env: map[string]string{"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}}, ""},
	{"env program safe", wire.Task{Command: "$CMD all", Env: map[string]string{"CMD": "make -j8"}}, ""},
	{"argv near miss", wire.Task{Argv: []string{"rm", "-rf", "./build"}}, ""},
}

func TestCheckOn(t *testing.T) {
	g := mustNew(t, Policy{})
	for _, tc := range onNodeCases {
		t.Run(tc.name, func(t *testing.T) {
			expectRule(t, g.CheckOn(&testNode, &tc.task), tc.rule)
		})
	}
}

// expectRule fails unless err is a refusal by rule (nil for "").
func expectRule(t *testing.T, err error, rule string) {
	t.Helper()
	var r *Refusal
	switch {
	case rule == "" && err != nil:
		t.Fatalf("refused: %v, want allowed", err)
	case rule != "" && (!errors.As(err, &r) || r.Rule != rule):
		t.Fatalf("got %v, want a refusal by rule %q", err, rule)
	}
}

// TestCheckTaskOnFrontEnd: a front end judges what it can see (the task's
// values, an absolute or ~ working directory, the contract's default of
// the home) and leaves the node's environment and policy to the node.
func TestCheckTaskOnFrontEnd(t *testing.T) {
	g := mustNew(t, Policy{})
	tests := []taskCase{
		{"no cwd glob", wire.Task{Command: "rm -rf *"}, RuleRmRoot},
		{"root cwd", wire.Task{Command: "rm -rf *", Cwd: "/"}, RuleRmRoot},
		{"tilde cwd", wire.Task{Command: "rm -rf .", Cwd: "~"}, RuleRmRoot},
		{"env root glob", wire.Task{Command: `rm -rf "$D"/*`, Env: map[string]string{"D": "/"}}, RuleRmRoot},
		{"argv in root", wire.Task{Argv: []string{"rm", "-rf", "*"}, Cwd: "/"}, RuleRmRoot},
		{"empty argv", wire.Task{Argv: []string{}}, RuleParse},
		{"bad command", wire.Task{Command: "echo 'x"}, RuleParse},
		// The node decides these.
		{"code env", wire.Task{Command: "make", Env: map[string]string{"BASH_ENV": "/tmp/x"}}, ""},
		{"unset variable", wire.Task{Command: `rm -rf "$OUT"/*`}, ""},
		{"relative cwd", wire.Task{Command: "rm -rf *", Cwd: "project"}, ""},
		{"project cwd", wire.Task{Command: "rm -rf *", Cwd: "~/src/app"}, ""},
		{"plain build", wire.Task{Command: "make -j8"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectRule(t, g.CheckTask(&tc.task), tc.rule)
		})
	}
}

func TestAllowEnv(t *testing.T) {
	g := mustNew(t, Policy{AllowEnv: []string{"LD_LIBRARY_PATH", "BASH_ENV"}})
	for _, env := range []map[string]string{{"LD_LIBRARY_PATH": "/opt/lib"}, {"BASH_ENV": "/etc/ci.sh"}} {
		if err := g.CheckOn(&testNode, &wire.Task{Command: "make", Env: env}); err != nil {
			t.Errorf("CheckOn(env %v) with AllowEnv = %v, want nil", env, err)
		}
	}
	err := g.CheckOn(&testNode, &wire.Task{Command: "make", Env: map[string]string{"LD_PRELOAD": "/x.so"}})
	expectRule(t, err, RuleEnv)
	for _, bad := range [][]string{{""}, {"A=B"}, {"A B"}} {
		if _, err := New(Policy{AllowEnv: bad}); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("New(AllowEnv %q) = %v, want ErrInvalidPolicy", bad, err)
		}
	}
}

// TestTaskRefusalText: the refusals of the task-aware rules say what to do.
func TestTaskRefusalText(t *testing.T) {
	g := mustNew(t, Policy{})
	tests := []struct {
		task wire.Task
		want string
	}{
		{wire.Task{Command: `rm -rf "$OUT"/*`}, `refused by rule "unset-var": recursive delete of a path starting with $OUT, which nothing sets in this task's environment or command: empty, it starts the path at /. Set it, or write ${OUT:?} so that the shell stops when it is empty (in: rm -rf "$OUT"/*)`},
		{wire.Task{Command: "make", Env: map[string]string{"BASH_ENV": "x"}}, `refused by rule "env": the task's environment sets BASH_ENV, with which the shell or the loader runs code the command does not show (a node allows it only by its policy: allow_env, FABRIC_GUARD_ALLOW_ENV)`},
		{wire.Task{Command: "rm -rf *"}, `refused by rule "rm-root": recursive forced delete of "~/*" (in: rm -rf *)`},
		{wire.Task{Command: "rm -rf *", Cwd: "/"}, `refused by rule "rm-root": recursive forced delete of "/*" (in: rm -rf *)`},
	}
	for _, tc := range tests {
		if got := errString(g.CheckOn(&testNode, &tc.task)); got != tc.want {
			t.Errorf("CheckOn(%+v) = %s\nwant %s", tc.task, got, tc.want)
		}
	}
}

// TestNodeDir: a node whose tasks run elsewhere than its home by default.
func TestNodeDir(t *testing.T) {
	g := mustNew(t, Policy{})
	n := Node{Home: "/home/n", Dir: "/srv/work"}
	check := g.NodeCheck(n)
	if err := check(&wire.Task{Command: "rm -rf *"}); err != nil {
		t.Errorf("rm -rf * in /srv/work = %v, want nil", err)
	}
	expectRule(t, check(&wire.Task{Command: "rm -rf *", Cwd: "~"}), RuleRmRoot)
	// A home elsewhere than /home is protected where it is.
	n = Node{Home: "/srv/ci"}
	expectRule(t, g.NodeCheck(n)(&wire.Task{Command: "rm -rf *"}), RuleRmRoot)
	off := false
	g = mustNew(t, Policy{ProtectHome: &off})
	if err := g.NodeCheck(n)(&wire.Task{Command: "rm -rf *"}); err != nil {
		t.Errorf("rm -rf * in an open home = %v, want nil", err)
	}
}

func TestThisNode(t *testing.T) {
	t.Setenv("HOME", "/home/this")
	n, err := ThisNode()
	if err != nil {
		t.Fatal(err)
	}
	if n.Home != "/home/this" || !strings.Contains(strings.Join(n.Env, "\n"), "HOME=/home/this") {
		t.Errorf("ThisNode = %+v", n)
	}
}
