package cli

import (
	"os"
	"runtime/debug"
)

// frontEndGCPercent is the garbage collector's target of the fabric binary
// when GOGC is not set. A front end streaming output receives a message
// per 256 KiB chunk, each a fresh allocation of nats.go; at Go's default
// of 100 the collector and the page scavenger returning those pages took
// about a third of the front end's CPU (4.0-4.8 ms per MiB against
// 3.1-3.2 at 200, for some 15 MiB more at the peak). Idle, the heap is a
// few MiB either way.
const frontEndGCPercent = 200

// tuneGC sets frontEndGCPercent unless the user chose with GOGC.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(frontEndGCPercent)
	}
}
