package fabrictest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyTestsImportIt: no package of the module imports fabrictest from
// its non-test files, so no shipped binary links the test starters.
func TestOnlyTestsImportIt(t *testing.T) {
	const self = "github.com/fabric-run/fabric/internal/fabrictest"
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		pkgs++
		for _, imp := range f[1:] {
			if imp == self && f[0] != self {
				t.Errorf("%s imports fabrictest outside its tests", f[0])
			}
		}
	}
	if pkgs < 10 {
		t.Fatalf("go list listed %d packages: %s", pkgs, out)
	}
}
