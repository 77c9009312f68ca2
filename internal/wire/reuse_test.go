package wire

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// genericHeartbeat decodes data the generic way, into a zero Heartbeat.
func genericHeartbeat(data []byte) (Heartbeat, error) {
	var hb Heartbeat
	err := Decode(msgpackMsg(data), &hb)
	return hb, err
}

func TestDecodeHeartbeatReusingMatchesGeneric(t *testing.T) {
	full := benchHeartbeat()
	cases := map[string]*Heartbeat{
		"full":           full,
		"sample":         sampleMessages()[5].(*Heartbeat),
		"zero":           {},
		"no caps":        {Node: "a", Capabilities: nil, Tasks: []string{}},
		"far time":       {Node: "a", Time: time.Date(2700, 1, 2, 3, 4, 5, 6, time.UTC)},
		"seconds time":   {Node: "a", Time: time.Unix(1795659241, 0)},
		"negative":       {Node: "a", CPUs: -3, Running: -1, Interval: -5, CPUPercent: -1.5},
		"big numbers":    {Node: "a", CPUs: 1 << 40, Slots: 70000, Running: 300, Interval: Duration(time.Hour)},
		"long strings":   {Node: string(bytes.Repeat([]byte("n"), 300)), Hostname: string(bytes.Repeat([]byte("h"), 70000))},
		"leaving":        {Node: "a", State: StateLeaving, Tasks: []string{"x"}},
		"newer version":  {V: MaxVersion + 1, Node: "a"},
		"older version?": {V: -1, Node: "a"},
		"gpus and full":  {Node: "a", GPUs: 2, GPUsFree: 1, Full: []string{"docker", "gpu"}},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			data, err := msgpack.Marshal(want) // as sent, with the V given
			if err != nil {
				t.Fatal(err)
			}
			gen, genErr := genericHeartbeat(data)
			// Into a zero struct, and into one holding other values.
			for _, start := range []Heartbeat{{}, *benchHeartbeat(), gen} {
				got := start
				err := DecodeHeartbeatReusing(msgpackMsg(data), &got)
				if (err == nil) != (genErr == nil) {
					t.Fatalf("err = %v, generic err = %v", err, genErr)
				}
				if err != nil {
					if !reflect.DeepEqual(got, start) {
						t.Fatalf("failed decode changed the heartbeat")
					}
					continue
				}
				if !reflect.DeepEqual(got, gen) {
					t.Fatalf("DecodeHeartbeatReusing = %+v\n want %+v", got, gen)
				}
			}
		})
	}
}

// TestDecodeHeartbeatReusingUnusual: encodings the fast reader does not
// take (an array struct, unknown nested fields, JSON) still decode, the
// generic way.
func TestDecodeHeartbeatReusingUnusual(t *testing.T) {
	withExtra := map[string]any{"node": "a", "future": map[string]any{"x": []any{1, "y", 2.5, nil, true}}, "os": "linux"}
	data, _ := msgpack.Marshal(withExtra)
	var hb Heartbeat
	if err := DecodeHeartbeatReusing(msgpackMsg(data), &hb); err != nil || hb.Node != "a" || hb.OS != "linux" {
		t.Fatalf("unknown field: %+v %v", hb, err)
	}
	msg, _ := Encode(FormatJSON, "x", benchHeartbeat())
	hb = Heartbeat{}
	if err := DecodeHeartbeatReusing(msg, &hb); err != nil || hb.Node != "builder-17" {
		t.Fatalf("json: %+v %v", hb, err)
	}
	hb = *benchHeartbeat()
	if err := DecodeHeartbeatReusing(msgpackMsg([]byte{0x81, 0xa4, 'n', 'o', 'd', 'e'}), &hb); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: err = %v", err)
	}
	if hb.Node != "builder-17" {
		t.Fatal("failed decode changed the heartbeat")
	}
	wrong, _ := NewMsg("x", &Cancel{ID: "a"})
	if err := DecodeHeartbeatReusing(wrong, &hb); !errors.Is(err, ErrWrongKind) {
		t.Fatalf("wrong kind: err = %v", err)
	}
}

// TestDecodeHeartbeatReusingSharesNothingItWrites: a caps slice handed out
// before is never written into, even when the new list has the same length.
func TestDecodeHeartbeatReusingSharesNothingItWrites(t *testing.T) {
	hb := *benchHeartbeat()
	shared := hb.Capabilities
	before := append([]string(nil), shared...)
	next := *benchHeartbeat()
	next.Capabilities = []string{"any", "gpu", "gcc", "go", "make", "python3"}
	data, _ := Marshal(&next)
	if err := DecodeHeartbeatReusing(msgpackMsg(data), &hb); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shared, before) {
		t.Fatalf("shared slice written: %v", shared)
	}
	if hb.Capabilities[1] != "gpu" {
		t.Fatalf("caps = %v", hb.Capabilities)
	}
}

func TestDecodeHeartbeatReusingAllocs(t *testing.T) {
	data, _ := Marshal(benchHeartbeat())
	msg := msgpackMsg(data)
	var hb Heartbeat
	if err := DecodeHeartbeatReusing(msg, &hb); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { _ = DecodeHeartbeatReusing(msg, &hb) }); a != 0 {
		t.Errorf("DecodeHeartbeatReusing of a repeated heartbeat: %.0f allocations, want 0", a)
	}
}

func TestDecodeChunkReusing(t *testing.T) {
	for _, want := range []*Chunk{benchChunk(), {ID: "x"}, {ID: "y", Stream: Stderr, Seq: 1 << 40, Data: []byte{}}, sampleMessages()[3].(*Chunk)} {
		msg, _ := NewMsg("x", want)
		var gen Chunk
		genErr := Decode(msg, &gen)
		c := Chunk{ID: want.ID, Data: []byte("old")}
		err := DecodeChunkReusing(msg, &c)
		if err != nil || genErr != nil {
			t.Fatalf("err = %v, generic %v", err, genErr)
		}
		if c.ID != gen.ID || c.Stream != gen.Stream || c.Seq != gen.Seq || c.V != gen.V || !bytes.Equal(c.Data, gen.Data) {
			t.Fatalf("DecodeChunkReusing = %+v, want %+v", c, gen)
		}
	}
	msg, _ := NewMsg("x", benchChunk())
	var c Chunk
	_ = DecodeChunkReusing(msg, &c)
	if a := testing.AllocsPerRun(100, func() { _ = DecodeChunkReusing(msg, &c) }); a != 0 {
		t.Errorf("DecodeChunkReusing: %.0f allocations, want 0", a)
	}
}

// FuzzDecodeHeartbeatReusing: on any input, the reusing decoder agrees with
// the generic one (error or not, and the same value), whatever it reused.
func FuzzDecodeHeartbeatReusing(f *testing.F) {
	for _, hb := range []*Heartbeat{benchHeartbeat(), sampleMessages()[5].(*Heartbeat), {}} {
		data, _ := Marshal(hb)
		f.Add(data)
	}
	f.Add([]byte{0x81, 0xa1, 'v', 0xcb, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x82, 0xa4, 'c', 'a', 'p', 's', 0x92, 0xa1, 'a', 0xc0, 0xa1, 't', 0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		gen, genErr := genericHeartbeat(data)
		got := *benchHeartbeat()
		err := DecodeHeartbeatReusing(msgpackMsg(data), &got)
		if (err == nil) != (genErr == nil) {
			t.Fatalf("err = %v, generic err = %v", err, genErr)
		}
		if err == nil && !reflect.DeepEqual(noNaN(got), noNaN(gen)) {
			t.Fatalf("DecodeHeartbeatReusing = %+v\n want %+v", got, gen)
		}
	})
}

// noNaN replaces NaNs (never equal to themselves) for comparison.
func noNaN(h Heartbeat) Heartbeat {
	for _, f := range []*float64{&h.CPUPercent, &h.MemPercent, &h.Load1, &h.Load5, &h.Load15} {
		if math.IsNaN(*f) {
			*f = -12345
		}
	}
	return h
}

func FuzzDecodeChunkReusing(f *testing.F) {
	for _, c := range []*Chunk{{ID: "a", Stream: Stdout, Seq: 3, Data: []byte("xyz")}, {}} {
		data, _ := Marshal(c)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var gen Chunk
		genErr := Decode(msgpackMsg(data), &gen)
		got := Chunk{ID: "a"}
		err := DecodeChunkReusing(msgpackMsg(data), &got)
		if (err == nil) != (genErr == nil) {
			t.Fatalf("err = %v, generic err = %v", err, genErr)
		}
		if err == nil && (got.ID != gen.ID || got.Stream != gen.Stream || got.Seq != gen.Seq || got.V != gen.V || !bytes.Equal(got.Data, gen.Data)) {
			t.Fatalf("DecodeChunkReusing = %+v, want %+v", got, gen)
		}
	})
}
