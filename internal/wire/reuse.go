package wire

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// DecodeHeartbeatReusing decodes msg into hb with the result Decode would
// give into a zero Heartbeat, but without allocating for values that
// repeat: a string or []string field of hb that already holds the decoded
// value is kept as it is. hb's slices are never written into (a changed
// list gets a new slice), so values shared with other readers stay valid.
// On error hb is unchanged.
//
// A front end ingests every node's heartbeat every interval; decoding
// each into the node's previous one makes that allocation-free.
func DecodeHeartbeatReusing(msg *nats.Msg, hb *Heartbeat) error {
	if FormatOf(msg) != FormatMsgpack || len(msg.Data) == 0 {
		return decodeFresh(msg, hb)
	}
	if k := KindOf(msg); k != "" && k != KindHeartbeat {
		return fmt.Errorf("%w: got %q, want %q", ErrWrongKind, k, KindHeartbeat)
	}
	next, err := readHeartbeat(msg.Data, hb)
	if errors.Is(err, errUnusual) {
		return decodeFresh(msg, hb)
	}
	if err := checkV(KindHeartbeat, next.V); err != nil {
		return err
	}
	*hb = next
	return nil
}

// decodeFresh decodes msg the generic way into a zero value of *m's type
// and, on success only, stores it in *m.
func decodeFresh[T any, PT interface {
	*T
	Message
}](msg *nats.Msg, m PT) error {
	fresh := PT(new(T))
	if err := Decode(msg, fresh); err != nil {
		return err
	}
	*m = *fresh
	return nil
}

// readHeartbeat reads a msgpack heartbeat, reusing prev's strings and
// slices where they are equal.
func readHeartbeat(data []byte, prev *Heartbeat) (Heartbeat, error) {
	var h Heartbeat
	r := mpReader{b: data}
	n, err := r.mapLen()
	if err != nil || n < 0 {
		return h, errUnusual
	}
	for i := 0; i < n; i++ {
		key, isNil, err := r.bytes()
		if err != nil || isNil {
			return h, errUnusual
		}
		var v int64
		switch string(key) {
		case "v":
			v, err = r.int()
			h.V = int(v)
		case "node":
			h.Node, err = r.str(prev.Node)
		case "inst":
			h.Instance, err = r.str(prev.Instance)
		case "host":
			h.Hostname, err = r.str(prev.Hostname)
		case "os":
			h.OS, err = r.str(prev.OS)
		case "arch":
			h.Arch, err = r.str(prev.Arch)
		case "caps":
			h.Capabilities, err = r.strs(prev.Capabilities)
		case "cpu":
			h.CPUPercent, err = r.float()
		case "mem":
			h.MemPercent, err = r.float()
		case "l1":
			h.Load1, err = r.float()
		case "l5":
			h.Load5, err = r.float()
		case "l15":
			h.Load15, err = r.float()
		case "cpus":
			v, err = r.int()
			h.CPUs = int(v)
		case "run":
			v, err = r.int()
			h.Running = int(v)
		case "tasks":
			h.Tasks, err = r.strs(prev.Tasks)
		case "slots":
			v, err = r.int()
			h.Slots = int(v)
		case "state":
			h.State, err = r.str(prev.State)
		case "ver":
			h.Version, err = r.str(prev.Version)
		case "t":
			h.Time, err = r.time()
		case "ivl":
			v, err = r.int()
			h.Interval = Duration(v)
		case "gpus":
			v, err = r.int()
			h.GPUs = int(v)
		case "gpuf":
			v, err = r.int()
			h.GPUsFree = int(v)
		case "full":
			h.Full, err = r.strs(prev.Full)
		default:
			err = r.skip(0)
		}
		if err != nil {
			return h, err
		}
	}
	return h, nil
}

// DecodeChunkReusing decodes msg into c as Decode does, except that c.Data
// aliases msg.Data instead of being a copy, and c.ID is kept when it is
// the same. It does not allocate for a msgpack chunk. On error c is
// unchanged.
func DecodeChunkReusing(msg *nats.Msg, c *Chunk) error {
	if FormatOf(msg) != FormatMsgpack || len(msg.Data) == 0 {
		return decodeFresh(msg, c)
	}
	if k := KindOf(msg); k != "" && k != KindChunk {
		return fmt.Errorf("%w: got %q, want %q", ErrWrongKind, k, KindChunk)
	}
	next, err := readChunk(msg.Data, c.ID)
	if errors.Is(err, errUnusual) {
		return decodeFresh(msg, c)
	}
	if err := checkV(KindChunk, next.V); err != nil {
		return err
	}
	*c = next
	return nil
}

func readChunk(data []byte, prevID string) (Chunk, error) {
	var c Chunk
	r := mpReader{b: data}
	n, err := r.mapLen()
	if err != nil || n < 0 {
		return c, errUnusual
	}
	for i := 0; i < n; i++ {
		key, isNil, err := r.bytes()
		if err != nil || isNil {
			return c, errUnusual
		}
		var v int64
		switch string(key) {
		case "v":
			v, err = r.int()
			c.V = int(v)
		case "id":
			c.ID, err = r.str(prevID)
		case "s":
			v, err = r.int()
			c.Stream = Stream(v)
		case "n":
			v, err = r.int()
			c.Seq = uint64(v)
		case "d":
			var isNil bool
			c.Data, isNil, err = r.bytes()
			if isNil {
				c.Data = nil
			}
		default:
			err = r.skip(0)
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}
