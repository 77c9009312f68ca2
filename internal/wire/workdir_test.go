package wire

import "testing"

func TestWorkDir(t *testing.T) {
	tests := []struct{ cwd, dflt, home, want string }{
		{"", "/home/n", "/home/n", "/home/n"},
		{"", "/srv/work", "/home/n", "/srv/work"},
		{"~", "/srv/work", "/home/n", "/home/n"},
		{"~/src/app", "/srv/work", "/home/n", "/home/n/src/app"},
		{"~", "/srv/work", "", "~"},
		{"build", "/home/n", "/home/n", "/home/n/build"},
		{"/tmp/x", "/home/n", "/home/n", "/tmp/x"},
		{"~alice", "/home/n", "/home/n", "/home/n/~alice"},
	}
	for _, tc := range tests {
		if got := WorkDir(tc.cwd, tc.dflt, tc.home); got != tc.want {
			t.Errorf("WorkDir(%q, %q, %q) = %q, want %q", tc.cwd, tc.dflt, tc.home, got, tc.want)
		}
	}
}
