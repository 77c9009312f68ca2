package shell

import (
	"errors"
	"reflect"
	"testing"

	"github.com/fabric-run/fabric/subjects"
)

func TestCapability(t *testing.T) {
	tests := map[string]string{"docker": "docker", "/usr/bin/docker": "docker", "nvidia-smi": "gpu", "g++": "gcc", "swift": "swift"}
	for prog, want := range tests {
		if got, ok := Capability(prog); !ok || got != want {
			t.Errorf("Capability(%q) = %q, %v; want %q", prog, got, ok, want)
		}
	}
	if _, ok := Capability("ls"); ok {
		t.Error("ls needs no capability")
	}
}

func TestDetect(t *testing.T) {
	have := map[string]bool{"docker": true, "nvidia-smi": true, "clang++": true}
	got := DetectCapabilities(func(p string) (string, error) {
		if have[p] {
			return "/usr/bin/" + p, nil
		}
		return "", errors.New("not found")
	})
	if want := []string{"clang", "docker", "gpu"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("DetectCapabilities = %v, want %v", got, want)
	}
}

func TestMergeCapabilities(t *testing.T) {
	got, err := MergeCapabilities([]string{"Docker", "gpu"}, []string{"docker"})
	if err != nil || !reflect.DeepEqual(got, []string{"any", "docker", "gpu"}) {
		t.Fatalf("MergeCapabilities = %v, %v", got, err)
	}
	if _, err := MergeCapabilities([]string{"bad cap"}); !errors.Is(err, subjects.ErrInvalidToken) {
		t.Fatalf("MergeCapabilities(bad) err = %v", err)
	}
}

func TestEveryCapabilityIsAToken(t *testing.T) {
	for _, c := range Capabilities() {
		if err := subjects.ValidToken(c); err != nil {
			t.Errorf("capability %q: %v", c, err)
		}
	}
}
