package wire

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestAckBy(t *testing.T) {
	by := time.Unix(1_700_000_000, 123456789)
	msg := &nats.Msg{}
	SetAckBy(msg, by)
	if got, ok := AckBy(msg); !ok || !got.Equal(by) {
		t.Fatalf("AckBy = %v, %v; want %v", got, ok, by)
	}
	for name, h := range map[string]nats.Header{
		"no header": nil,
		"none":      {},
		"garbage":   {HeaderAckBy: []string{"soon"}},
		"zero":      {HeaderAckBy: []string{"0"}},
		"negative":  {HeaderAckBy: []string{"-5"}},
	} {
		if got, ok := AckBy(&nats.Msg{Header: h}); ok {
			t.Errorf("%s: AckBy = %v, true; want none", name, got)
		}
	}
}
