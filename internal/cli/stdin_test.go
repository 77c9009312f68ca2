//go:build unix

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestPendingInput(t *testing.T) {
	dir := t.TempDir()
	n := 0
	file := func(data string) *os.File {
		n++
		p := filepath.Join(dir, fmt.Sprint("in", n))
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	pipe := func(data string) *os.File {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		if _, err := w.WriteString(data); err != nil {
			t.Fatal(err)
		}
		return r
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	read := file("abc")
	if _, err := read.Read(make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		f    *os.File
		want bool
	}{
		{"file with data", file("data\n"), true},
		{"empty file", file(""), false},
		{"file read to its end", read, false},
		{"pipe with data", pipe("data\n"), runtime.GOOS == "linux"}, // only Linux looks into pipes
		{"empty pipe", pipe(""), false},
		{"/dev/null", devNull, false},
		{"nil file", nil, false},
	} {
		if got := pendingInput(tt.f); got != tt.want {
			t.Errorf("%s: pendingInput = %v, want %v", tt.name, got, tt.want)
		}
	}
}
