package router

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestInferThroughWrappers pins what the router and the guard once
// disagreed on, now that both read shell.Walk: each wrapper with the options
// it really takes, env -S and pkexec running their program, and commands run
// elsewhere (ssh, a container) needing nothing here.
func TestInferThroughWrappers(t *testing.T) {
	tests := []struct {
		cmd      string
		programs []string
		caps     []string
		class    Class
	}{
		{"env -S 'make -j8'", []string{"make"}, []string{"make"}, Heavy},
		{"pkexec make install", []string{"make"}, []string{"make"}, Heavy},
		{"/usr/bin/time -p make", []string{"make"}, []string{"make"}, Heavy},
		{"command -p make", []string{"make"}, []string{"make"}, Heavy},
		{"command -v docker", nil, nil, Light},
		{"sudo -s make", []string{"make"}, []string{"make"}, Heavy},
		{"xargs -i make {}", []string{"make"}, []string{"make"}, Heavy},
		{"exec -c go build", []string{"go"}, []string{"go"}, Heavy},
		{"setsid ls", []string{"ls"}, nil, Light},
		{"ssh host make", []string{"ssh"}, nil, Normal},
		{"docker run --rm img make", []string{"docker"}, []string{"docker"}, Heavy},
		{"eval 'cargo build'", []string{"eval", "cargo"}, []string{"cargo"}, Heavy},
		{"find . -name '*.c' -exec gcc -c {} +", []string{"find", "gcc"}, []string{"gcc"}, Heavy},
		{"M=make; $M all", []string{"make"}, []string{"make"}, Heavy},
		{"$CMD", nil, nil, Light},
	}
	for _, tt := range tests {
		got, err := Infer(tt.cmd)
		if err != nil {
			t.Errorf("Infer(%q) = %v", tt.cmd, err)
			continue
		}
		if !reflect.DeepEqual(got.Programs, tt.programs) || !reflect.DeepEqual(got.Capabilities, tt.caps) || got.Class != tt.class {
			t.Errorf("Infer(%q) = programs %q caps %v class %s; want programs %q caps %v class %s",
				tt.cmd, got.Programs, got.Capabilities, got.Class, tt.programs, tt.caps, tt.class)
		}
	}
}

func TestInferArgv(t *testing.T) {
	got := inferArgv([]string{"/usr/bin/swift", "build"})
	want := Inference{Programs: []string{"swift"}, Capabilities: []string{"swift"}, OS: "darwin", Class: Heavy}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("inferArgv = %+v, want %+v", got, want)
	}
	if got := inferArgv([]string{"ls"}); got.Class != Light {
		t.Errorf("inferArgv(ls) class = %s, want light", got.Class)
	}
	if got := inferArgv([]string{"curl"}); got.Class != Normal {
		t.Errorf("inferArgv(curl) class = %s, want normal", got.Class)
	}
}

// TestInferManyPrograms: programs are counted once each, however many.
func TestInferManyPrograms(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "p%d; p%d; ", i, i%50)
	}
	got, err := Infer(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Programs) != 100 || got.Programs[99] != "p99" {
		t.Errorf("Infer counted %d programs (%q...), want 100", len(got.Programs), got.Programs[:3])
	}
}
