package procstat

import (
	"errors"
	"os"
	"runtime"
	"testing"
)

func TestSelf(t *testing.T) {
	u, err := Self()
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if u.RSS <= 0 || u.PeakRSS < u.RSS {
		t.Fatalf("Self() = %+v", u)
	}
	if o, err := Of(os.Getpid()); err != nil || o.RSS <= 0 {
		t.Fatalf("Of(self) = %+v, %v", o, err)
	}
	if err := ResetPeak(); err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a, err := ThreadCPU()
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := range 10_000_000 {
		x += i
	}
	b, _ := ThreadCPU()
	if b <= a || x == 0 {
		t.Fatalf("thread CPU did not advance: %v then %v", a, b)
	}
}
