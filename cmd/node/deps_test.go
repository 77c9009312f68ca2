package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/fabric-run/fabric"

// TestLinksNoFixtures: the fabric-node program links no test fixture (no
// package with "test" in its path, std's testing included) and none of
// the benchmark: not internal/bench, its sshd launcher or its command. The
// fabric program keeps `fabric bench`, and with it bench and sshd, but no
// fixture either.
func TestLinksNoFixtures(t *testing.T) {
	for _, tt := range []struct {
		dir       string
		forbidden []string // module packages, and everything under them
		required  []string // module packages it must link (the list is real)
	}{
		{".", []string{"internal/bench", "internal/sshd", "internal/cli/benchcmd", "internal/fabrictest"}, []string{"internal/cli", "internal/worker"}},
		{"../fabric", []string{"internal/fabrictest"}, []string{"internal/cli", "internal/cli/benchcmd", "internal/bench", "internal/sshd"}},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			deps := listDeps(t, tt.dir)
			for _, d := range deps {
				for _, f := range tt.forbidden {
					if d.path == module+"/"+f || strings.HasPrefix(d.path, module+"/"+f+"/") {
						t.Errorf("links %s", d.path)
					}
				}
				if isFixture(d) {
					t.Errorf("links the test package %s", d.path)
				}
			}
			for _, r := range tt.required {
				if !slices.ContainsFunc(deps, func(d dep) bool { return d.path == module+"/"+r }) {
					t.Errorf("does not link %s/%s: is go list's answer whole? %v", module, r, deps)
				}
			}
		})
	}
}

// dep is one package a program links.
type dep struct {
	path     string
	standard bool
}

// listDeps lists, with go list, every package the program in dir links.
func listDeps(t *testing.T, dir string) []dep {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", ".")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps in %s: %v", dir, err)
	}
	var deps []dep
	for line := range strings.Lines(string(out)) {
		path, std, _ := strings.Cut(strings.TrimSpace(line), " ")
		deps = append(deps, dep{path: path, standard: std == "true"})
	}
	return deps
}

// isFixture tells a test package: std's testing and what is under it, and
// any other package with "test" in an element of its path (fabrictest,
// goleak's internals, httptest ...). The standard library's own internal
// helpers that the runtime links (internal/synctest, internal/testlog) are
// not fixtures.
func isFixture(d dep) bool {
	if d.standard {
		return d.path == "testing" || strings.HasPrefix(d.path, "testing/") || strings.HasSuffix(d.path, "/httptest")
	}
	for _, el := range strings.Split(d.path, "/") {
		if strings.Contains(el, "test") {
			return true
		}
	}
	return strings.HasPrefix(d.path, "go.uber.org/goleak")
}
