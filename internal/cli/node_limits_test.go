package cli

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fabric-run/fabric/internal/wire"
)

func TestParseLimits(t *testing.T) {
	got, err := parseLimits(map[string]int{"Docker": 1, "gpu": 2})
	if err != nil || !reflect.DeepEqual(got, map[string]int{"docker": 1, "gpu": 2}) {
		t.Fatalf("parseLimits = %v, %v", got, err)
	}
	for _, bad := range []map[string]int{{"docker": 0}, {"big box": 1}} {
		if _, err := parseLimits(bad); err == nil || !strings.Contains(err.Error(), "--limit") {
			t.Errorf("parseLimits(%v) = %v, want an error naming --limit", bad, err)
		}
	}
}

func TestCommandNeeds(t *testing.T) {
	if got := commandNeeds(&wire.Task{Command: "sudo docker build . && nvidia-smi"}); !slices.Contains(got, "docker") || !slices.Contains(got, "gpu") {
		t.Fatalf("commandNeeds = %v, want docker and gpu", got)
	}
	if got := commandNeeds(&wire.Task{Argv: []string{"/usr/bin/docker", "ps"}}); !slices.Equal(got, []string{"docker"}) {
		t.Fatalf("argv task: %v, want docker", got)
	}
	if got := commandNeeds(&wire.Task{Argv: []string{"ls"}}); got != nil {
		t.Fatalf("argv ls: %v", got)
	}
}
