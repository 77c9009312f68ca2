package shell

import (
	"reflect"
	"testing"
)

// argRecorder records the values of every argument of every invocation.
type argRecorder struct {
	opts  Options
	names []string
	args  [][]Values
}

func (r *argRecorder) Invoke(inv *Invocation) error {
	r.names = append(r.names, inv.Name)
	var vs []Values
	for _, a := range inv.Args[1:] {
		v := inv.Value(a)
		var alts []Value
		for _, alt := range v.Alts {
			alts = append(alts, inv.Resolve(alt)...)
		}
		v.Alts = alts
		vs = append(vs, v)
	}
	r.args = append(r.args, vs)
	return nil
}
func (*argRecorder) Write(*Write) error { return nil }
func (*argRecorder) Func(*Func) error   { return nil }

// walkArgs returns the resolved values of the arguments of cmd's last
// invocation.
func walkArgs(t *testing.T, cmd string, opts Options) []Values {
	t.Helper()
	r := &argRecorder{}
	if err := Walk(cmd, opts, r); err != nil {
		t.Fatalf("Walk(%q) = %v", cmd, err)
	}
	if len(r.args) == 0 {
		t.Fatalf("Walk(%q) invoked nothing", cmd)
	}
	return r.args[len(r.args)-1]
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestWalkCwd(t *testing.T) {
	root := &Value{S: "/"}
	if got, want := walkArgs(t, "rm -rf *", Options{Cwd: root})[1], One("/*"); !reflect.DeepEqual(got, want) {
		t.Errorf("in /: %+v, want %+v", got, want)
	}
	home := &Value{S: "/src", Home: true}
	want := []Values{{Alts: []Value{{S: "/src/build", Home: true}}}}
	if got := walkArgs(t, "ls build", Options{Cwd: home}); !reflect.DeepEqual(got, want) {
		t.Errorf("in ~/src: %+v, want %+v", got, want)
	}
	// cd still moves it; a remote command does not see it.
	if got := walkArgs(t, "cd /tmp && ls x", Options{Cwd: root}); !reflect.DeepEqual(got, []Values{One("/tmp/x")}) {
		t.Errorf("after cd: %+v", got)
	}
	if got := walkArgs(t, "ssh h ls x", Options{Cwd: root, Rules: func(string) bool { return true }}); len(got[0].Alts) != 0 {
		t.Errorf("remote ls x resolved to %+v, want nothing", got)
	}
}

func TestWalkEnv(t *testing.T) {
	opts := Options{Env: env(map[string]string{"D": "/srv", "HOME": "/elsewhere"})}
	if got := walkArgs(t, `ls "$D"/x`, opts); !reflect.DeepEqual(got, []Values{One("/srv/x")}) {
		t.Errorf("defined: %+v", got)
	}
	if got := walkArgs(t, `D=/tmp; ls "$D"`, opts); !reflect.DeepEqual(got, []Values{One("/tmp")}) {
		t.Errorf("assigned over the environment: %+v", got)
	}
	if got := walkArgs(t, `ls $HOME`, opts); !reflect.DeepEqual(got, []Values{{Alts: []Value{{Home: true}}}}) {
		t.Errorf("HOME is the home: %+v", got)
	}
	if got := walkArgs(t, `ls "$X"/a`, opts); got[0].Unset != "" || !got[0].Unknown {
		t.Errorf("undefined, environment not known whole: %+v, want unknown, not unset", got)
	}
	if got := walkArgs(t, `bash -c 'ls "$D"'`, opts); !reflect.DeepEqual(got, []Values{One("/srv")}) {
		t.Errorf("in bash -c: %+v", got)
	}
	if got := walkArgs(t, `ssh h 'ls "$D"'`, Options{Env: opts.Env, Rules: func(string) bool { return true }}); !got[0].Unknown {
		t.Errorf("on another host: %+v, want unknown", got)
	}
}

func TestWalkUnset(t *testing.T) {
	opts := Options{Env: env(map[string]string{"TMPDIR": "/tmp"}), EnvKnown: true}
	tests := []struct {
		cmd, unset string
	}{
		{`ls "$OUT"/*`, "OUT"},
		{`ls ${OUT}x`, "OUT"},
		{`ls "${OUT}"`, "OUT"},
		{`X=$OUT/a; ls "$X"`, "OUT"},
		{`ls x"$OUT"`, ""},
		{`ls "${OUT:?}"/*`, ""},
		{`ls "${OUT:-/tmp}"/*`, ""},
		{`ls "${OUT:=/tmp}"/*`, ""},
		{`ls "$TMPDIR"/x`, ""},
		{`ls "$PWD"/x`, ""},
		{`ls "$1"/x`, ""},
		{`OUT=a; ls "$OUT"/x`, ""},
		{`for OUT in a b; do ls "$OUT"/x; done`, ""},
		{`if x; then OUT=a; fi; ls "$OUT"/x`, "OUT"},
	}
	for _, tc := range tests {
		if got := walkArgs(t, tc.cmd, opts)[0].Unset; got != tc.unset {
			t.Errorf("Walk(%q): Unset = %q, want %q", tc.cmd, got, tc.unset)
		}
	}
	if got := walkArgs(t, `ls "$OUT"/*`, Options{})[0].Unset; got != "" {
		t.Errorf("environment unknown: Unset = %q, want none", got)
	}
}

func TestWalkCommandInVariable(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string // name then literal arguments, of the split invocation
	}{
		{`RM="rm -rf"; $RM /usr`, []string{"rm", "-rf", "/usr"}},
		{`C="chmod -R 777"; $C /`, []string{"chmod", "-R", "777", "/"}},
		{`c=(rm -rf); "${c[@]}" /`, []string{"rm", "-rf", "/"}},
		{`c=(rm -rf /); ${c[*]}`, []string{"rm", "-rf", "/"}},
	}
	for _, tc := range tests {
		var r recorder
		if err := Walk(tc.cmd, Options{}, &r); err != nil {
			t.Fatal(err)
		}
		found := false
		for i, name := range r.invoked {
			if name == tc.want[0] && reflect.DeepEqual(r.args[i], tc.want[1:]) {
				found = true
			}
		}
		if !found {
			t.Errorf("Walk(%q) invoked %q with %q, want %q among them", tc.cmd, r.invoked, r.args, tc.want)
		}
	}
}

func TestWalkScriptOnStdin(t *testing.T) {
	for _, cmd := range []string{
		"bash /dev/stdin <<< 'make'",
		"bash /dev/fd/0 <<< 'make'",
		"sh /proc/self/fd/0 <<< 'make'",
		"echo make | bash /dev/stdin",
		"bash -s arg <<< 'make'",
	} {
		if got := walkNames(t, cmd); len(got) == 0 || got[len(got)-1] != "make" {
			t.Errorf("Walk(%q) invoked %q, want make last", cmd, got)
		}
	}
	if got := walkNames(t, "bash ./script.sh <<< 'make'"); !reflect.DeepEqual(got, []string{"bash"}) {
		t.Errorf("a script file: invoked %q, want bash only", got)
	}
}
