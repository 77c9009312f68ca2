package tasks

import (
	"testing"

	"github.com/fabric-run/fabric/internal/wire"
)

func TestStateOf(t *testing.T) {
	running := &Record{State: StateRunning}
	tests := []struct {
		name string
		rec  *Record
		res  *wire.Result
		want State
	}{
		{"nothing", nil, nil, ""},
		{"new record", &Record{}, nil, StateQueued},
		{"queued", &Record{State: StateQueued}, nil, StateQueued},
		{"running", running, nil, StateRunning},
		{"front end recorded failure", &Record{State: StateFailed, Error: wire.ErrNoMatch}, nil, StateFailed},
		{"exit 0", running, &wire.Result{}, StateDone},
		{"exit 1", running, &wire.Result{ExitCode: 1}, StateFailed},
		{"killed by signal", running, &wire.Result{ExitCode: -1, Signal: "killed"}, StateFailed},
		{"timeout", running, &wire.Result{ExitCode: -1, Error: wire.ErrTimeout}, StateFailed},
		{"start failed", running, &wire.Result{Error: wire.ErrStartFailed}, StateFailed},
		{"rejected", running, &wire.Result{Error: wire.ErrRejected}, StateFailed},
		{"cancelled", running, &wire.Result{Error: wire.ErrCancelled}, StateCancelled},
		{"node lost", running, &wire.Result{Error: wire.ErrNodeLost}, StateLost},
		{"result without record", nil, &wire.Result{}, StateDone},
		{"result beats record", &Record{State: StateCancelled}, &wire.Result{}, StateDone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StateOf(tt.rec, tt.res); got != tt.want {
				t.Errorf("StateOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStateFinal(t *testing.T) {
	for s, want := range map[State]bool{
		StateQueued: false, StateRunning: false,
		StateDone: true, StateFailed: true, StateCancelled: true, StateLost: true,
	} {
		if got := s.Final(); got != want {
			t.Errorf("%q.Final() = %v, want %v", s, got, want)
		}
	}
}
