package tasks

import (
	"errors"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

func TestMemoryExpiry(t *testing.T) {
	clk := newClock()
	s := NewMemory(Config{MaxAge: time.Hour, Now: clk.Now})
	defer s.Close()
	ctx := ctxT(t)

	id, later := wire.NewTaskID(), wire.NewTaskID()
	if err := s.Create(ctx, sampleRecord(id)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Minute)
	if err := s.PutResult(ctx, sampleResult(id)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, sampleRecord(later)); err != nil {
		t.Fatal(err)
	}

	// The record is 1h old: gone; the result, written later, stays.
	clk.Advance(30 * time.Minute)
	rec, res, err := s.Get(ctx, id)
	if err != nil || res == nil || rec.Command != "" {
		t.Fatalf("Get at 1h = %+v, %v, %v; want only the result", rec, res, err)
	}
	if err := s.Update(ctx, sampleRecord(id)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update(expired) = %v, want ErrNotFound", err)
	}
	if recs, _ := s.List(ctx, 0); len(recs) != 1 || recs[0].ID != later {
		t.Errorf("List at 1h = %v, want only %s", recs, later)
	}

	clk.Advance(30 * time.Minute)
	if _, _, err := s.Get(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get at 1h30 = %v, want ErrNotFound", err)
	}
	if _, _, err := s.Get(ctx, later); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(later) at 1h30 = %v, want ErrNotFound", err)
	}
	if err := s.Create(ctx, sampleRecord(id)); err != nil {
		t.Errorf("Create(expired id) = %v, want nil", err)
	}

	// Expired values are dropped, not only hidden.
	m := s.(*memStore)
	m.mu.Lock()
	n := len(m.records) + len(m.results)
	m.mu.Unlock()
	if n != 1 {
		t.Errorf("memory holds %d values after expiry, want 1", n)
	}
}

func TestMemoryUpdateRefreshesAge(t *testing.T) {
	clk := newClock()
	s := NewMemory(Config{MaxAge: time.Hour, Now: clk.Now})
	defer s.Close()
	ctx := ctxT(t)
	rec := sampleRecord(wire.NewTaskID())
	if err := s.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	clk.Advance(50 * time.Minute)
	if err := s.Update(ctx, rec); err != nil {
		t.Fatal(err)
	}
	clk.Advance(50 * time.Minute)
	if _, _, err := s.Get(ctx, rec.ID); err != nil {
		t.Errorf("Get 50m after an update = %v, want the record", err)
	}
}
