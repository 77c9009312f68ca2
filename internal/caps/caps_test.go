package caps

import (
	"errors"
	"reflect"
	"testing"

	"github.com/fabric-run/fabric/subjects"
)

func TestForProgram(t *testing.T) {
	tests := map[string]string{"docker": "docker", "/usr/bin/docker": "docker", "nvidia-smi": "gpu", "g++": "gcc", "swift": "swift"}
	for prog, want := range tests {
		if got, ok := ForProgram(prog); !ok || got != want {
			t.Errorf("ForProgram(%q) = %q, %v; want %q", prog, got, ok, want)
		}
	}
	if _, ok := ForProgram("ls"); ok {
		t.Error("ls needs no capability")
	}
}

func TestDetect(t *testing.T) {
	have := map[string]bool{"docker": true, "nvidia-smi": true, "clang++": true}
	got := Detect(func(p string) (string, error) {
		if have[p] {
			return "/usr/bin/" + p, nil
		}
		return "", errors.New("not found")
	})
	if want := []string{"clang", "docker", "gpu"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Detect = %v, want %v", got, want)
	}
}

func TestMerge(t *testing.T) {
	got, err := Merge([]string{"Docker", "gpu"}, []string{"docker"})
	if err != nil || !reflect.DeepEqual(got, []string{"any", "docker", "gpu"}) {
		t.Fatalf("Merge = %v, %v", got, err)
	}
	if _, err := Merge([]string{"bad cap"}); !errors.Is(err, subjects.ErrInvalidToken) {
		t.Fatalf("Merge(bad) err = %v", err)
	}
}

func TestEveryCapabilityIsAToken(t *testing.T) {
	for _, c := range Known() {
		if err := subjects.ValidToken(c); err != nil {
			t.Errorf("capability %q: %v", c, err)
		}
	}
}
