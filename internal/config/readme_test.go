package config

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestKnobsMatchTheREADME: the README's configuration table, the user's
// contract, lists exactly the variables in Knobs.
func TestKnobsMatchTheREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(FABRIC_[A-Z0-9_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		documented = append(documented, m[1])
	}
	var known []string
	for _, k := range Knobs {
		known = append(known, k.Env)
		if !slices.Contains(documented, k.Env) {
			t.Errorf("%s is in config.Knobs but not in the README's configuration table", k.Env)
		}
	}
	for _, d := range documented {
		if !slices.Contains(known, d) {
			t.Errorf("%s is in the README's configuration table but not in config.Knobs", d)
		}
	}
}
