package wire

import "time"

// Defaults every part of fabric shares: the front end, a worker and the SSH
// path each apply them to a task that sets none, so they must agree, and
// are defined once, here.
const (
	// DefaultTimeout bounds a task that sets no timeout (FABRIC_CMD_TIMEOUT;
	// the seed system's CLUSTER_CMD_TIMEOUT).
	DefaultTimeout = 300 * time.Second
	// DefaultOutputLimit is how many bytes of each output stream are kept
	// when nothing sets less (FABRIC_OUTPUT_LIMIT): all of it up to the
	// limit, past it its head and its tail.
	DefaultOutputLimit = 1 << 20
)

// How a node is reached: the registry's rows, task records and node
// listings all say it with these words.
const (
	// ViaNATS is a worker (fabric-node), reached over the bus.
	ViaNATS = "nats"
	// ViaSSH is a machine of the inventory that runs no worker, reached
	// over SSH by the front end itself.
	ViaSSH = "ssh"
)
