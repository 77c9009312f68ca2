package router

import (
	"slices"
	"strings"

	"github.com/fabric-run/fabric/internal/shell"
)

// Class is how heavy a command is, from the programs it invokes.
type Class string

// The classes. Light commands stay on the local node; the others go to the
// least-loaded match unless the local node is under its thresholds.
const (
	Light  Class = "light"  // only quick read-only programs: ls, cat, echo, ...
	Heavy  Class = "heavy"  // builds, tests, compilers, containers, bulk file work
	Normal Class = "normal" // anything else
)

// Inference is what a command says about where it can run.
type Inference struct {
	// Programs are the programs the command invokes, in order, deduplicated.
	Programs []string
	// Capabilities are those the programs need (shell.Capability).
	Capabilities []string
	// OS is the operating system a program needs, if any.
	OS string
	// Class is how heavy the command is.
	Class Class
}

// Infer parses command as bash and works out what it needs, from the
// programs it runs here (shell.Walk: through wrappers such as sudo, env,
// time and xargs, inside bash -c strings, eval and find -exec; not the
// commands a container or another host runs). A command that cannot be
// parsed is an error.
func Infer(command string) (Inference, error) {
	v := inferrer{inf: Inference{Class: Light}}
	if err := shell.Walk(command, shell.Options{}, &v); err != nil {
		return Inference{}, err
	}
	slices.Sort(v.inf.Capabilities)
	return v.inf, nil
}

// inferrer builds an Inference from the programs a walk finds.
type inferrer struct {
	inf  Inference
	seen map[string]bool // inf.Programs, once there are many
}

// seenLinear is how many programs are looked for in inf.Programs before a
// map is worth its allocation (a hostile command may name thousands).
const seenLinear = 16

// Invoke counts one program the command runs.
func (v *inferrer) Invoke(inv *shell.Invocation) error {
	name := inv.Name
	if name == "" || inv.Remote || inv.Wrapper {
		return nil // unknown, elsewhere, or only a prefix to what it runs
	}
	if name == "grep" && v.inf.Class != Heavy && recursive(inv) {
		v.inf.Class = Heavy
	}
	if v.counted(name) {
		return nil
	}
	v.add(name)
	return nil
}

// counted reports whether the program name was counted already.
func (v *inferrer) counted(name string) bool {
	if v.seen == nil && len(v.inf.Programs) < seenLinear {
		return slices.Contains(v.inf.Programs, name)
	}
	if v.seen == nil {
		v.seen = make(map[string]bool, 2*seenLinear)
		for _, p := range v.inf.Programs {
			v.seen[p] = true
		}
	}
	if v.seen[name] {
		return true
	}
	v.seen[name] = true
	return false
}

// add counts the program name, seen for the first time.
func (v *inferrer) add(name string) {
	inf := &v.inf
	inf.Programs = append(inf.Programs, name)
	if c, ok := shell.Capability(name); ok && !slices.Contains(inf.Capabilities, c) {
		inf.Capabilities = append(inf.Capabilities, c)
	}
	if os, ok := shell.OSOf(name); ok && inf.OS == "" {
		inf.OS = os
	}
	switch shell.WeightOf(name) {
	case shell.Heavy:
		inf.Class = Heavy
	case shell.Normal:
		if inf.Class == Light {
			inf.Class = Normal
		}
	}
}

// Write needs nothing: writing a file is not a requirement.
func (*inferrer) Write(*shell.Write) error { return nil }

// Func needs nothing: a function's body is walked where it is defined.
func (*inferrer) Func(*shell.Func) error { return nil }

// recursive reports whether the invocation is given -r, -R or --recursive
// (grep -r is bulk file work).
func recursive(inv *shell.Invocation) bool {
	for _, a := range inv.Args[1:] {
		s, _ := inv.Lit(a)
		if s == "--recursive" || (strings.HasPrefix(s, "-") && !strings.HasPrefix(s, "--") && strings.ContainsAny(s, "rR")) {
			return true
		}
	}
	return false
}

// inferArgv infers from the program of an argv task.
func inferArgv(argv []string) Inference {
	name := base(argv[0])
	inf := Inference{Class: Normal, Programs: []string{name}}
	if c, ok := shell.Capability(name); ok {
		inf.Capabilities = []string{c}
	}
	inf.OS, _ = shell.OSOf(name)
	switch shell.WeightOf(name) {
	case shell.Light:
		inf.Class = Light
	case shell.Heavy:
		inf.Class = Heavy
	}
	return inf
}

// base returns the program name of a path: what follows its last '/'.
func base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
