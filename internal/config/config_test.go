package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestReaders(t *testing.T) {
	r := NewReader(env(map[string]string{
		"A": "300", "B": "1.5", "C": "5m", "D": " a, b ,,c ", "E": "7", "F": "DEBUG", "G": "40.5",
	}))
	if got := r.Seconds("A", 0); got != 300*time.Second {
		t.Errorf("A = %v", got)
	}
	if got := r.Seconds("B", 0); got != 1500*time.Millisecond {
		t.Errorf("B = %v", got)
	}
	if got := r.Seconds("C", 0); got != 5*time.Minute {
		t.Errorf("C = %v", got)
	}
	if got := r.List("D", nil); strings.Join(got, "|") != "a|b|c" {
		t.Errorf("D = %q", got)
	}
	if got := r.Int("E", 0, 1); got != 7 {
		t.Errorf("E = %v", got)
	}
	if got := r.OneOf("F", "info", "debug", "info"); got != "debug" {
		t.Errorf("F = %v", got)
	}
	if got := r.Float("G", 0); got != 40.5 {
		t.Errorf("G = %v", got)
	}
	if got := r.Seconds("MISSING", time.Second); got != time.Second {
		t.Errorf("default = %v", got)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	r := NewReader(env(map[string]string{
		"FABRIC_CMD_TIMEOUT": "soon", "FABRIC_SLOTS": "0", "FABRIC_CPU_THRESHOLD": "-1", "FABRIC_LOG_LEVEL": "loud", "FABRIC_HEARTBEAT": "-2",
	}))
	r.Seconds("FABRIC_CMD_TIMEOUT", time.Second)
	r.Int("FABRIC_SLOTS", 1, 1)
	r.Float("FABRIC_CPU_THRESHOLD", 40)
	r.OneOf("FABRIC_LOG_LEVEL", "info", "debug", "info")
	r.Seconds("FABRIC_HEARTBEAT", time.Second)
	err := r.Err()
	for _, want := range []string{`FABRIC_CMD_TIMEOUT="soon"`, `FABRIC_SLOTS="0"`, `FABRIC_CPU_THRESHOLD="-1"`, `FABRIC_LOG_LEVEL="loud"`, `FABRIC_HEARTBEAT="-2": must be positive`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestKnobsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Knobs {
		if seen[k.Env] || !strings.HasPrefix(k.Env, "FABRIC_") || k.Meaning == "" {
			t.Errorf("bad knob %+v", k)
		}
		seen[k.Env] = true
	}
}

func TestBool(t *testing.T) {
	r := NewReader(env(map[string]string{"A": "yes", "B": "off", "C": "maybe"}))
	if !r.Bool("A", false) || r.Bool("B", true) || !r.Bool("D", true) {
		t.Fatal("Bool misread")
	}
	r.Bool("C", false)
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), `C="maybe"`) {
		t.Fatalf("err = %v", err)
	}
}
