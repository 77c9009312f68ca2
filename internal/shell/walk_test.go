package shell

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// recorder records what a walk yields.
type recorder struct {
	invoked []string // name, with "@" for remote and "+" for wrappers
	args    [][]string
	writes  []string
	funcs   []string
	stopAt  string // an invocation name that ends the walk
}

var errStop = errors.New("stop")

func (r *recorder) Invoke(inv *Invocation) error {
	name := inv.Name
	if name == "" {
		name = "?"
	}
	if inv.Remote {
		name = "@" + name
	}
	if inv.Wrapper {
		name = "+" + name
	}
	r.invoked = append(r.invoked, name)
	var args []string
	for _, a := range inv.Args[1:] {
		s, ok := inv.Lit(a)
		if !ok {
			s = "?"
		}
		args = append(args, s)
	}
	r.args = append(r.args, args)
	if r.stopAt != "" && inv.Name == r.stopAt {
		return errStop
	}
	return nil
}

func (r *recorder) Write(w *Write) error {
	for _, v := range w.Target.Alts {
		r.writes = append(r.writes, v.Display())
	}
	return nil
}

func (r *recorder) Func(f *Func) error {
	name, spawns := f.SelfSpawning()
	if spawns {
		r.funcs = append(r.funcs, name+"!")
	} else {
		r.funcs = append(r.funcs, "f")
	}
	return nil
}

// walkNames returns the invocations of cmd as recorded.
func walkNames(t *testing.T, cmd string) []string {
	t.Helper()
	var r recorder
	if err := Walk(cmd, Options{}, &r); err != nil {
		t.Fatalf("Walk(%q) = %v", cmd, err)
	}
	return r.invoked
}

func TestWalkInvocations(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string
	}{
		{"make -j8", []string{"make"}},
		{"a | b && c; d || (e) & { f; }", []string{"a", "b", "c", "d", "e", "f"}},
		{"echo $(date) `id` <(ls)", []string{"date", "id", "ls", "echo"}},
		{"sh -c 'cargo build'", []string{"sh", "cargo"}},
		{`bash -c "sh -c 'go vet'"`, []string{"bash", "sh", "go"}},
		{"eval 'make test'", []string{"eval", "make"}},
		{"bash <<< 'make'", []string{"bash", "make"}},
		{"echo 'make' | sh", []string{"echo", "sh", "make"}},
		{"sudo -u ci docker ps", []string{"+sudo", "docker"}},
		{"sudo -s make", []string{"+sudo", "make"}},
		{"doas -u root make", []string{"+doas", "make"}},
		{"pkexec make", []string{"+pkexec", "make"}},
		{"pkexec --user root make", []string{"+pkexec", "make"}},
		{"env A=1 -u B make", []string{"+env", "make"}},
		{"env -C /src make", []string{"+env", "make"}},
		{"env -S 'make -j8' all", []string{"+env", "make"}},
		{"env -Smake", []string{"+env", "make"}},
		{"env --split-string='go test'", []string{"+env", "go"}},
		{"nice -n 5 make", []string{"+nice", "make"}},
		{"nohup make &", []string{"+nohup", "make"}},
		{"time make", []string{"make"}},
		{"/usr/bin/time -p make", []string{"+time", "make"}},
		{"/usr/bin/time -o log make", []string{"+time", "make"}},
		{"command -p make", []string{"+command", "make"}},
		{"command -v docker", []string{"+command"}},
		{"exec -a name make", []string{"+exec", "make"}},
		{"exec -c make", []string{"+exec", "make"}},
		{"xargs -i make {}", []string{"+xargs", "make"}},
		{"xargs -I {} make {}", []string{"+xargs", "make"}},
		{"xargs -n 1 make", []string{"+xargs", "make"}},
		{"timeout -s KILL 10 make", []string{"+timeout", "make"}},
		{"timeout 10 make", []string{"+timeout", "make"}},
		{"stdbuf -oL make", []string{"+stdbuf", "make"}},
		{"setsid make", []string{"+setsid", "make"}},
		{"chroot /srv make", []string{"+chroot", "make"}},
		{"ionice -c 3 make", []string{"+ionice", "make"}},
		{"sudo nice timeout 5 env A=1 make", []string{"+sudo", "+nice", "+timeout", "+env", "make"}},
		{"find . -name '*.c' -exec gcc -c {} +", []string{"find", "gcc"}},
		{"ssh host make", []string{"ssh", "@make"}},
		{"docker run --rm img make", []string{"docker"}},
		{"MAKE=make; $MAKE all", []string{"make"}},
		{"$CMD x", []string{"?"}},
		{"su -c 'make' root", []string{"su", "make"}},
		{"watch -n 1 make", []string{"watch", "make"}},
		{"flock /tmp/l make", []string{"flock", "make"}},
		{"trap 'make clean' EXIT", []string{"trap", "make"}},
	}
	for _, tc := range tests {
		if got := walkNames(t, tc.cmd); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Walk(%q) invoked %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

// TestWalkContainerRules: a container's command line is searched for the
// programs the visitor has rules for.
func TestWalkContainerRules(t *testing.T) {
	var r recorder
	opts := Options{Rules: func(name string) bool { return name == "make" }}
	if err := Walk("docker run --rm img make all", opts, &r); err != nil {
		t.Fatal(err)
	}
	if want := []string{"docker", "@make"}; !reflect.DeepEqual(r.invoked, want) {
		t.Errorf("invoked %q, want %q", r.invoked, want)
	}
}

func TestWalkArgs(t *testing.T) {
	var r recorder
	if err := Walk(`D=/tmp; rm -rf "$D"/x $UNSET ~/y`, Options{}, &r); err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"-rf", "/tmp/x", "?", "?"}}; !reflect.DeepEqual(r.args, want) {
		t.Errorf("args %q, want %q", r.args, want)
	}
}

func TestWalkWritesAndFuncs(t *testing.T) {
	var r recorder
	if err := Walk("f() { g; }; b() { b | b & }; echo x > /dev/sda 2>&1 >> log", Options{}, &r); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/dev/sda", "log"}; !reflect.DeepEqual(r.writes, want) {
		t.Errorf("writes %q, want %q", r.writes, want)
	}
	if want := []string{"f", "b!"}; !reflect.DeepEqual(r.funcs, want) {
		t.Errorf("funcs %q, want %q", r.funcs, want)
	}
}

func TestWalkStopsOnVisitorError(t *testing.T) {
	r := recorder{stopAt: "b"}
	if err := Walk("a; b; c", Options{}, &r); !errors.Is(err, errStop) {
		t.Fatalf("Walk = %v, want errStop", err)
	}
	if want := []string{"a", "b"}; !reflect.DeepEqual(r.invoked, want) {
		t.Errorf("invoked %q, want %q", r.invoked, want)
	}
}

func TestWalkErrors(t *testing.T) {
	tests := []struct {
		cmd  string
		want error
	}{
		{"echo 'x", ErrParse},
		{"bash -c 'echo \"x'", ErrParse},
		{strings.Repeat("eval ", MaxDepth+1) + "ls", ErrTooComplex},
		{strings.Repeat("(", MaxNesting+1), ErrTooComplex},
		{strings.Repeat("echo hi; ", WorkBudget/8), ErrTooComplex},
	}
	for _, tc := range tests {
		var se *Error
		err := Walk(tc.cmd, Options{}, &recorder{})
		if !errors.As(err, &se) || !errors.Is(err, tc.want) {
			t.Errorf("Walk(%.40q) = %v, want an *Error wrapping %v", tc.cmd, err, tc.want)
		}
	}
	// Code that only might be code (an alias body) need not parse.
	if err := Walk("alias x='echo \"'", Options{}, &recorder{}); err != nil {
		t.Errorf("Walk(alias) = %v, want nil", err)
	}
	if err := Walk(strings.Repeat("eval ", MaxDepth)+"ls", Options{}, &recorder{}); err != nil {
		t.Errorf("Walk(as deep as allowed) = %v, want nil", err)
	}
}

func TestWalkArgv(t *testing.T) {
	var r recorder
	if err := WalkArgv([]string{"sudo", "bash", "-c", "make $X"}, Options{}, &r); err != nil {
		t.Fatal(err)
	}
	if want := []string{"+sudo", "bash", "make"}; !reflect.DeepEqual(r.invoked, want) {
		t.Errorf("invoked %q, want %q", r.invoked, want)
	}
	if err := WalkArgv(nil, Options{}, &r); err != nil {
		t.Errorf("WalkArgv(nil) = %v", err)
	}
}

func TestFuncsOption(t *testing.T) {
	for _, funcs := range []bool{false, true} {
		var got []bool
		v := funcVisitor(func(inv *Invocation) { got = append(got, inv.Func) })
		if err := Walk("build() { make; }; build", Options{Funcs: funcs}, v); err != nil {
			t.Fatal(err)
		}
		if want := []bool{false, funcs}; !reflect.DeepEqual(got, want) {
			t.Errorf("Funcs %v: Invocation.Func = %v, want %v", funcs, got, want)
		}
	}
}

// funcVisitor is a Visitor calling f on every invocation.
type funcVisitor func(*Invocation)

func (f funcVisitor) Invoke(inv *Invocation) error { f(inv); return nil }
func (funcVisitor) Write(*Write) error             { return nil }
func (funcVisitor) Func(*Func) error               { return nil }

func TestJoin(t *testing.T) {
	if got, want := Join([]string{"rm", "-rf", "my file", "it's", ""}), `rm -rf 'my file' 'it'\''s' ''`; got != want {
		t.Errorf("Join = %s, want %s", got, want)
	}
}

func TestWeights(t *testing.T) {
	for name, want := range map[string]Weight{"ls": Light, "make": Heavy, "curl": Normal, "find": Heavy} {
		if got := WeightOf(name); got != want {
			t.Errorf("WeightOf(%q) = %v, want %v", name, got, want)
		}
	}
	if os, ok := OSOf("swift"); !ok || os != "darwin" {
		t.Errorf("OSOf(swift) = %q, %v", os, ok)
	}
	if _, ok := OSOf("make"); ok {
		t.Error("OSOf(make) is set")
	}
}
