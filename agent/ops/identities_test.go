package ops

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// clock is a settable wall clock for the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func ident(chain string, ports ...uint16) Identity {
	return Identity{CallChainID: chain, ParticipantID: "p-" + chain, MediaLegID: "l-" + chain, LocalPorts: ports}
}

func TestIdentitiesLookup(t *testing.T) {
	clk := &clock{t: t0}
	s := NewIdentities(clk.now)

	s.Announce(ident("a", 50000, 50002))
	if _, ok := s.Lookup(40000, t0); ok {
		t.Error("Lookup of an unannounced port found something")
	}
	if got, ok := s.Lookup(50002, t0.Add(time.Minute)); !ok || got.CallChainID != "a" {
		t.Errorf("Lookup(50002) = %+v, %v, want a", got, ok)
	}
	// Announced after the call's first packet (the application was late): still found.
	if got, ok := s.Lookup(50000, t0.Add(-10*time.Second)); !ok || got.CallChainID != "a" {
		t.Errorf("Lookup before the announcement = %+v, %v, want a", got, ok)
	}

	// a ends; b is announced later on the same port.
	clk.set(t0.Add(10 * time.Minute))
	if err := s.End("a"); err != nil {
		t.Fatal(err)
	}
	if got := <-s.Ended(); got != "a" {
		t.Errorf("Ended() = %q, want a", got)
	}
	clk.set(t0.Add(20 * time.Minute))
	s.Announce(ident("b", 50000))
	// a's record, built now, looks up at a's first packet: a, not b.
	if got, _ := s.Lookup(50000, t0.Add(time.Second)); got.CallChainID != "a" {
		t.Errorf("Lookup for the ended call = %q, want a", got.CallChainID)
	}
	// A call starting after a ended, before b was announced: b (announced late for it).
	if got, _ := s.Lookup(50000, t0.Add(15*time.Minute)); got.CallChainID != "b" {
		t.Errorf("Lookup after a ended = %q, want b", got.CallChainID)
	}
	if got, _ := s.Lookup(50000, t0.Add(21*time.Minute)); got.CallChainID != "b" {
		t.Errorf("Lookup during b = %q, want b", got.CallChainID)
	}

	// A port-less announcement serves ports nobody named.
	s.Announce(ident("c"))
	if got, _ := s.Lookup(40000, t0.Add(21*time.Minute)); got.CallChainID != "c" {
		t.Errorf("Lookup of an unnamed port = %q, want c", got.CallChainID)
	}
	if got, _ := s.Lookup(50000, t0.Add(21*time.Minute)); got.CallChainID != "b" {
		t.Errorf("a named port = %q, want b over the port-less c", got.CallChainID)
	}

	// After a day everything has expired.
	clk.set(t0.Add(20*time.Minute + IdentityTTL))
	if _, ok := s.Lookup(50000, clk.now()); ok || s.Len() != 0 {
		t.Errorf("after a day: Lookup found something, Len = %d", s.Len())
	}
}

func TestIdentitiesReplaceAndClone(t *testing.T) {
	clk := &clock{t: t0}
	s := NewIdentities(clk.now)
	s.Announce(ident("a", 5000))
	id := ident("a", 6000)
	id.ClockRates = map[uint8]uint32{111: 48000}
	s.Announce(id)
	if _, ok := s.Lookup(5000, t0); ok {
		t.Error("the replaced announcement's port still matches")
	}
	got, ok := s.Lookup(6000, t0)
	if !ok || got.ClockRates[111] != 48000 {
		t.Fatalf("Lookup = %+v, %v", got, ok)
	}
	got.ClockRates[111], got.LocalPorts[0] = 1, 1 // the caller's copy is its own
	if again, _ := s.Lookup(6000, t0); again.ClockRates[111] != 48000 || again.LocalPorts[0] != 6000 {
		t.Errorf("mutating a looked-up identity changed the store: %+v", again)
	}
	if n := len(s.List()); n != 1 {
		t.Errorf("List has %d entries, want 1", n)
	}
}

func TestIdentitiesEnd(t *testing.T) {
	s := NewIdentities((&clock{t: t0}).now)
	if err := s.End("nobody"); !errors.Is(err, ErrUnknownCall) {
		t.Errorf("End(unknown) = %v, want ErrUnknownCall", err)
	}
	s.Announce(ident("a", 1))
	for i := 0; i < endedBuffer; i++ {
		if err := s.End("a"); err != nil {
			t.Fatalf("End #%d = %v", i, err)
		}
	}
	if err := s.End("a"); !errors.Is(err, ErrEndedBacklog) {
		t.Errorf("End with a full channel = %v, want ErrEndedBacklog", err)
	}
}

func TestIdentitiesBounded(t *testing.T) {
	s := NewIdentities((&clock{t: t0}).now)
	for i := range maxIdentities + 10 {
		s.Announce(ident(string(rune('a'+i%26))+time.Duration(i).String(), uint16(i+1)))
	}
	if s.Len() != maxIdentities {
		t.Errorf("Len = %d, want %d", s.Len(), maxIdentities)
	}
	if _, ok := s.Lookup(1, t0); ok {
		t.Error("the oldest announcement was kept past the bound")
	}
}
