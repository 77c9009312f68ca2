package subjects

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestBuilders(t *testing.T) {
	s := Default()
	tests := []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"task", func() (string, error) { return s.Task("linux", "amd64", "docker", "builder-1") }, "fabric.task.linux.amd64.docker.builder-1"},
		{"task any", func() (string, error) { return s.TaskAny("darwin", "arm64", "any") }, "fabric.task.darwin.arm64.any"},
		{"heartbeat", func() (string, error) { return s.Heartbeat("n_1") }, "fabric.heartbeat.n_1"},
		{"cancel", func() (string, error) { return s.Cancel("n1") }, "fabric.cancel.n1"},
		{"ping", func() (string, error) { return s.Ping(), nil }, "fabric.ping"},
		{"output", func() (string, error) { return s.Output("t1") }, "fabric.output.t1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestBuildersRejectBadTokens(t *testing.T) {
	s := Default()
	bad := []string{"", "a.b", "*", ">", "a b", "Docker", "a\tb", "é", strings.Repeat("a", MaxTokenLen+1), "a>"}
	for _, tok := range bad {
		if _, err := s.Task("linux", "amd64", tok, "n1"); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Task(cap=%q) err = %v, want ErrInvalidToken", tok, err)
		}
		if _, err := s.Task("linux", "amd64", "any", tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Task(node=%q) err = %v, want ErrInvalidToken", tok, err)
		}
		if _, err := s.TaskAny(tok, "amd64", "any"); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("TaskAny(os=%q) err = %v, want ErrInvalidToken", tok, err)
		}
		if _, err := s.Heartbeat(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Heartbeat(%q) err = %v, want ErrInvalidToken", tok, err)
		}
		if _, err := s.Cancel(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Cancel(%q) err = %v, want ErrInvalidToken", tok, err)
		}
	}
}

func TestNewPrefix(t *testing.T) {
	s, err := New("acme.fabric")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Heartbeat("n1")
	if got != "acme.fabric.heartbeat.n1" {
		t.Fatalf("Heartbeat = %q", got)
	}
	if _, err := s.Parse("fabric.heartbeat.n1"); !errors.Is(err, ErrNotFabric) {
		t.Fatalf("Parse of other prefix err = %v, want ErrNotFabric", err)
	}
	for _, p := range []string{"a..b", "a.*", "A", ".a", "a."} {
		if _, err := New(p); !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("New(%q) err = %v, want ErrInvalidPrefix", p, err)
		}
	}
	if s, _ := New(""); s.Prefix() != DefaultPrefix {
		t.Errorf("New(\"\").Prefix() = %q", s.Prefix())
	}
}

func TestParse(t *testing.T) {
	s := Default()
	tests := []struct {
		in   string
		want Subject
		err  error
	}{
		{"fabric.task.linux.amd64.any.n1", Subject{Kind: KindTask, OS: "linux", Arch: "amd64", Capability: "any", Node: "n1"}, nil},
		{"fabric.task.linux.amd64.gpu", Subject{Kind: KindTaskAny, OS: "linux", Arch: "amd64", Capability: "gpu"}, nil},
		{"fabric.heartbeat.n1", Subject{Kind: KindHeartbeat, Node: "n1"}, nil},
		{"fabric.ping", Subject{Kind: KindPing}, nil},
		{"fabric.cancel.n1", Subject{Kind: KindCancel, Node: "n1"}, nil},
		{"fabric.output.t1", Subject{Kind: KindOutput, Task: "t1"}, nil},
		// Wildcards and malformed subjects are never parsed as concrete ones.
		{"fabric.task.linux.amd64.*.n1", Subject{}, ErrInvalidToken},
		{"fabric.task.>", Subject{}, ErrInvalidToken},
		{"fabric.heartbeat.*", Subject{}, ErrInvalidToken},
		{"fabric.task.linux.amd64", Subject{}, ErrUnknownSubject},
		{"fabric.task.linux.amd64.any.n1.extra", Subject{}, ErrUnknownSubject},
		{"fabric.ping.x", Subject{}, ErrUnknownSubject},
		{"fabric.heartbeat", Subject{}, ErrUnknownSubject},
		{"fabric.other.x", Subject{}, ErrUnknownSubject},
		{"fabric.", Subject{}, ErrInvalidToken},
		{"fabric.heartbeat..n1", Subject{}, ErrInvalidToken},
		{"fabricx.ping", Subject{}, ErrNotFabric},
		{"other.ping", Subject{}, ErrNotFabric},
		{"", Subject{}, ErrNotFabric},
	}
	for _, tt := range tests {
		got, err := s.Parse(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Parse(%q) err = %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestWildcardsMatchWhatTheyShould(t *testing.T) {
	s := Default()
	task, _ := s.Task("linux", "amd64", "any", "n1")
	hb, _ := s.Heartbeat("n1")
	if !matches(s.AllTasks(), task) || matches(s.AllTasks(), hb) {
		t.Errorf("AllTasks %q over- or under-matches", s.AllTasks())
	}
	if !matches(s.AllHeartbeats(), hb) || matches(s.AllHeartbeats(), task) {
		t.Errorf("AllHeartbeats %q over- or under-matches", s.AllHeartbeats())
	}
	// A task for node "n1" must not reach a subscription for node "n10".
	sub, _ := s.Task("linux", "amd64", "any", "n10")
	if matches(sub, task) {
		t.Errorf("%q matches %q", sub, task)
	}
}

// matches reports whether NATS subscription pattern p matches subject s.
func matches(p, s string) bool {
	pt, st := strings.Split(p, "."), strings.Split(s, ".")
	for i, tok := range pt {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) || (tok != "*" && tok != st[i]) {
			return false
		}
	}
	return len(pt) == len(st)
}

// TestRoundTrip is a property test: every subject built from random valid
// tokens parses back to what built it.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	prefixes := []string{"fabric", "acme.fabric", "x"}
	for i := 0; i < 5000; i++ {
		s, err := New(prefixes[i%len(prefixes)])
		if err != nil {
			t.Fatal(err)
		}
		want := randomSubject(r)
		subj, err := s.Format(want)
		if err != nil {
			t.Fatalf("Format(%+v): %v", want, err)
		}
		got, err := s.Parse(subj)
		if err != nil || got != want {
			t.Fatalf("Parse(Format(%+v)) = %+v, %v (subject %q)", want, got, err, subj)
		}
	}
}

func randomSubject(r *rand.Rand) Subject {
	tok := func() string {
		const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789_-"
		b := make([]byte, 1+r.IntN(MaxTokenLen))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	switch Kind(1 + r.IntN(6)) {
	case KindTask:
		return Subject{Kind: KindTask, OS: tok(), Arch: tok(), Capability: tok(), Node: tok()}
	case KindTaskAny:
		return Subject{Kind: KindTaskAny, OS: tok(), Arch: tok(), Capability: tok()}
	case KindHeartbeat:
		return Subject{Kind: KindHeartbeat, Node: tok()}
	case KindPing:
		return Subject{Kind: KindPing}
	case KindOutput:
		return Subject{Kind: KindOutput, Task: tok()}
	default:
		return Subject{Kind: KindCancel, Node: tok()}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"fabric.task.linux.amd64.any.n1", "fabric.task.linux.amd64.gpu", "fabric.heartbeat.n1",
		"fabric.ping", "fabric.cancel.n1", "fabric.task.>", "fabric..", "", "fabric.task.a.b.c.d.e",
	} {
		f.Add(seed)
	}
	s := Default()
	f.Fuzz(func(t *testing.T, in string) {
		sub, err := s.Parse(in)
		if err != nil {
			return
		}
		out, err := s.Format(sub)
		if err != nil {
			t.Fatalf("Format(Parse(%q)) error: %v", in, err)
		}
		if out != in {
			t.Fatalf("Format(Parse(%q)) = %q", in, out)
		}
	})
}

func FuzzToken(f *testing.F) {
	for _, seed := range []string{"Marcs-Mac-Studio.local", "", "---", "a..b", "ÄÖÜ", strings.Repeat("x.", 60)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tok := Token(in)
		if err := ValidToken(tok); err != nil {
			t.Fatalf("Token(%q) = %q, invalid: %v", in, tok, err)
		}
		if Token(tok) != tok {
			t.Fatalf("Token is not idempotent on %q: %q then %q", in, tok, Token(tok))
		}
	})
}

func TestToken(t *testing.T) {
	tests := map[string]string{
		"Marcs-Mac-Studio.local": "marcs-mac-studio-local",
		"builder":                "builder",
		"my_host.example.com":    "my_host-example-com",
		"--weird--":              "weird",
		"a  b":                   "a-b",
		"":                       "node",
		"...":                    "node",
		"Zürich-1":               "z-rich-1",
	}
	for in, want := range tests {
		if got := Token(in); got != want {
			t.Errorf("Token(%q) = %q, want %q", in, got, want)
		}
	}
	long := Token(strings.Repeat("ab-", 40))
	if len(long) > MaxTokenLen || ValidToken(long) != nil {
		t.Errorf("Token(long) = %q", long)
	}
}

func TestNormalize(t *testing.T) {
	osTests := map[string]string{"macos": "darwin", "Darwin": "darwin", "linux": "linux", " Linux ": "linux", "windows": "windows"}
	for in, want := range osTests {
		if got, err := NormalizeOS(in); err != nil || got != want {
			t.Errorf("NormalizeOS(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	archTests := map[string]string{"x86_64": "amd64", "aarch64": "arm64", "arm64e": "arm64", "AMD64": "amd64", "arm64": "arm64", "i686": "386"}
	for in, want := range archTests {
		if got, err := NormalizeArch(in); err != nil || got != want {
			t.Errorf("NormalizeArch(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "mac os", "linux.x"} {
		if _, err := NormalizeOS(bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("NormalizeOS(%q) err = %v", bad, err)
		}
	}
	if got, err := NormalizeCapability("GPU"); err != nil || got != "gpu" {
		t.Errorf("NormalizeCapability(GPU) = %q, %v", got, err)
	}
}

func BenchmarkTask(b *testing.B) {
	s := Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Task("linux", "amd64", "docker", "builder-1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	s := Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Parse("fabric.task.linux.amd64.docker.builder-1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHeartbeat(b *testing.B) {
	s := Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Heartbeat("builder-1"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHotPathAllocs: building a subject allocates its string only; parsing
// allocates nothing (a front end parses every heartbeat's subject).
func TestHotPathAllocs(t *testing.T) {
	s := Default()
	if a := testing.AllocsPerRun(100, func() { _, _ = s.Task("linux", "amd64", "docker", "builder-1") }); a > 1 {
		t.Errorf("Task: %.0f allocations, want 1", a)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = s.Parse("fabric.heartbeat.builder-1") }); a != 0 {
		t.Errorf("Parse: %.0f allocations, want 0", a)
	}
}
