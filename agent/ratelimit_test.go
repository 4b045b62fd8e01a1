package agent

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// TestWarnLimiter: 1000 occurrences within 10 s give one line; the next one after the interval
// gives one line saying 999 were left out; messages are limited apart.
func TestWarnLimiter(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newWarnLimiter(zap.New(core), 0, clock.now) // 0: the default interval, 60 s
	start := clock.t

	for i := 0; i < 1000; i++ { // 1000 calls, 10 ms apart: 0 to 9.99 s
		l.Warn("capture read failed", zap.Int("i", i))
		clock.advance(10 * time.Millisecond)
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("%d lines after 1000 warnings in 10 s, want 1", n)
	}
	first := logs.TakeAll()[0]
	if _, has := first.ContextMap()["suppressed"]; has || first.ContextMap()["i"] != int64(0) {
		t.Errorf("first line %v, want the first occurrence without suppressed", first.ContextMap())
	}

	clock.t = start.Add(59*time.Second + 999*time.Millisecond) // still inside the interval
	if l.Warn("capture read failed") || logs.Len() != 0 {
		t.Fatal("logged before the interval passed")
	}
	clock.t = start.Add(60 * time.Second)
	if !l.Warn("capture read failed") {
		t.Fatal("not logged once the interval passed")
	}
	got := logs.TakeAll()
	if len(got) != 1 || got[0].ContextMap()["suppressed"] != uint64(1000) {
		t.Fatalf("lines %v, want one with suppressed=1000 (999 in 10 s, 1 at 59.999 s)", got)
	}

	// Another message has its own interval.
	l.Warn("kernel dropped packets")
	if logs.Len() != 1 {
		t.Errorf("a different message was held back")
	}
}

// TestWarnLimiterSuppressedCount is the case exactly: 1000 calls in 10 s, then one after
// the interval carrying suppressed=999.
func TestWarnLimiterSuppressedCount(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	clock := &fakeClock{t: time.Unix(0, 0)}
	l := newWarnLimiter(zap.New(core), time.Minute, clock.now)
	for i := 0; i < 1000; i++ {
		l.Warn("w")
		clock.advance(10 * time.Millisecond)
	}
	if logs.Len() != 1 {
		t.Fatalf("%d lines, want 1", logs.Len())
	}
	clock.advance(time.Minute)
	l.Warn("w")
	all := logs.All()
	if len(all) != 2 || all[1].ContextMap()["suppressed"] != uint64(999) || all[1].Level != zapcore.WarnLevel {
		t.Fatalf("lines %v, want a second WARN with suppressed=999", all)
	}
}
