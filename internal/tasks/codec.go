package tasks

import (
	"bytes"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/fabric-run/fabric/internal/wire"
)

// encodeRecord returns rec as msgpack, refusing values over limit bytes.
func encodeRecord(rec *Record, limit int) ([]byte, error) {
	b, err := msgpack.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%w: record is %d bytes, the store takes %d", ErrTooLarge, len(b), limit)
	}
	return b, nil
}

// decodeRecord decodes a stored record of task id.
func decodeRecord(id string, b []byte) (*Record, error) {
	rec := new(Record)
	if err := wire.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("record of %s: %w", id, err)
	}
	if rec.ID == "" {
		rec.ID = id
	}
	return rec, nil
}

// decodeResult decodes a stored result of task id: msgpack as the store and
// nodes write it, or a JSON object as a script might publish it. A result
// naming another task is refused.
func decodeResult(id string, b []byte) (*wire.Result, error) {
	msg := &nats.Msg{Data: b, Header: nats.Header{}}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		// A msgpack Result is a map, never '{' (a positive fixint).
		msg.Header.Set(wire.HeaderContentType, wire.ContentTypeMsgpack)
	}
	res := new(wire.Result)
	if err := wire.Decode(msg, res); err != nil {
		return nil, fmt.Errorf("result of %s: %w", id, err)
	}
	if res.ID == "" {
		res.ID = id
	}
	if res.ID != id {
		return nil, fmt.Errorf("%w: result stored for %s names task %s", wire.ErrMalformed, id, res.ID)
	}
	return res, nil
}
