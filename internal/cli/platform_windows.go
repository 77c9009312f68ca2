//go:build windows

package cli

import "errors"

// errNodeOnWindows is why no worker runs on Windows: a task's timeout or
// cancellation kills its whole process group, which Windows lacks (it would
// need job objects), and tasks run under bash or sh.
var errNodeOnWindows = errors.New("fabric node does not run on Windows: a timeout or a cancel must kill a task's whole process tree, which takes process groups, and tasks run under bash or sh. Run nodes on Linux or macOS (or WSL); on Windows, use the front end against them: fabric run --server nats://HUB:4222 ..., fabric nodes --server ...")

// nodeSupported reports whether a worker node can run on this OS.
func nodeSupported() error { return errNodeOnWindows }
