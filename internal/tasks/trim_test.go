package tasks

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fabric-run/fabric/internal/capture"
	"github.com/fabric-run/fabric/internal/wire"
)

func TestTrimResult(t *testing.T) {
	const maxPayload = 16 << 10
	big := func(n int, head, tail string) string {
		return head + strings.Repeat("m", n-len(head)-len(tail)) + tail
	}
	tests := []struct {
		name             string
		stdout, stderr   string
		wantOut, wantErr bool // truncated
	}{
		{"fits", "hello", "world", false, false},
		{"stdout too big", big(100<<10, "HEAD", "TAIL"), "short", true, false},
		{"stderr too big", "short", big(100<<10, "HEAD", "TAIL"), false, true},
		{"both too big", big(50<<10, "HEAD", "TAIL"), big(50<<10, "HEAD", "TAIL"), true, true},
		{"multibyte", big(60<<10, "HEAD", "TAIL") + strings.Repeat("é", 20<<10) + "TAIL", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &wire.Result{ID: "x", Stdout: tt.stdout, Stderr: tt.stderr}
			got, err := TrimResult(in, maxPayload)
			if err != nil {
				t.Fatalf("TrimResult: %v", err)
			}
			if in.Stdout != tt.stdout || in.StdoutTruncated {
				t.Error("TrimResult modified its argument")
			}
			b, _ := wire.Marshal(got)
			if len(b) > maxPayload-Headroom {
				t.Errorf("encoded size = %d, want <= %d", len(b), maxPayload-Headroom)
			}
			check := func(name, orig, kept string, n int64, truncated, want bool) {
				if truncated != want {
					t.Errorf("%s truncated = %v, want %v", name, truncated, want)
				}
				if want && n != int64(len(orig)) {
					t.Errorf("%s bytes = %d, want %d", name, n, len(orig))
				}
				if !utf8.ValidString(kept) {
					t.Errorf("%s is not valid UTF-8 after trimming", name)
				}
				if !want {
					if kept != orig {
						t.Errorf("%s changed though it was not truncated", name)
					}
					return
				}
				if !strings.HasPrefix(kept, "HEAD") || !strings.HasSuffix(kept, "TAIL") || !strings.Contains(kept, "omitted") {
					t.Errorf("%s lost its head, tail or marker: %.40q...", name, kept)
				}
			}
			check("stdout", tt.stdout, got.Stdout, got.StdoutBytes, got.StdoutTruncated, tt.wantOut)
			check("stderr", tt.stderr, got.Stderr, got.StderrBytes, got.StderrTruncated, tt.wantErr)
		})
	}
}

func TestTrimResultShorterStreamKeepsAll(t *testing.T) {
	in := &wire.Result{ID: "x", Stdout: strings.Repeat("o", 100<<10), Stderr: strings.Repeat("e", 2<<10)}
	got, err := TrimResult(in, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stderr != in.Stderr || got.StderrTruncated {
		t.Errorf("short stderr was cut to %d bytes", len(got.Stderr))
	}
}

func TestTrimResultOfTruncatedOutput(t *testing.T) {
	// Output the node already cut: the count of what is left out covers
	// both cuts.
	b := capture.New(64 << 10)
	b.Write([]byte("HEAD"))
	b.Write(bytes.Repeat([]byte("m"), 1<<20))
	b.Write([]byte("TAIL"))
	in := &wire.Result{ID: "x", Stdout: b.String(), StdoutBytes: b.Total(), StdoutTruncated: true}
	got, err := TrimResult(in, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(got.Stdout, "omitted") != 1 {
		t.Errorf("stdout has %d markers, want 1", strings.Count(got.Stdout, "omitted"))
	}
	kept := int64(len(got.Stdout) - len(capture.Marker(0)))
	if want := capture.Marker(b.Total() - kept); !strings.Contains(got.Stdout, want) {
		t.Errorf("marker does not count the omitted %d bytes: want %q", b.Total()-kept, want)
	}
	if got.StdoutBytes != b.Total() {
		t.Errorf("StdoutBytes = %d, want %d", got.StdoutBytes, b.Total())
	}
}

func TestTrimResultTooLarge(t *testing.T) {
	in := &wire.Result{ID: "x", Message: strings.Repeat("m", 32<<10)}
	if _, err := TrimResult(in, 16<<10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("TrimResult(huge message) = %v, want ErrTooLarge", err)
	}
	if _, err := TrimResult(&wire.Result{ID: "x"}, 100); !errors.Is(err, ErrTooLarge) {
		t.Errorf("TrimResult(tiny payload) = %v, want ErrTooLarge", err)
	}
}
