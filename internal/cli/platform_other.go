//go:build !windows

package cli

// nodeSupported reports whether a worker node can run on this OS: it needs
// process groups to kill a task's whole process tree.
func nodeSupported() error { return nil }
