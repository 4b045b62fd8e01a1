package ops

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"time"
)

// Identity is one announced call identity (DESIGN §6).
type Identity struct {
	CallChainID   string `json:"callChainId"`
	ParticipantID string `json:"participantId"`
	MediaLegID    string `json:"mediaLegId"`
	// LocalPorts are the device's media ports of the call; none means "any port": the identity
	// is then found by time alone, for whatever call is not otherwise announced.
	LocalPorts []uint16 `json:"localPorts"`
	// ClockRates are the dynamic payload types' clock rates from the announced SDP (Hz).
	ClockRates map[uint8]uint32 `json:"clockRates,omitempty"`
	Announced  time.Time        `json:"announcedAt"`
	Ended      time.Time        `json:"endedAt,omitzero"` // zero until ended explicitly
}

// IdentityTTL is how long an announcement stays usable.
const IdentityTTL = 24 * time.Hour

// maxIdentities bounds the store; past it the oldest announcement is forgotten. A room device
// has one call at a time, so this is only a guard against a runaway client.
const maxIdentities = 1024

// endedBuffer is how many explicit ends may wait for the agent to read them.
const endedBuffer = 256

// ErrEndedBacklog is returned by End when the agent has not read the previous ends: the call is
// marked ended (Lookup knows), but the agent was not told; the client should retry.
var ErrEndedBacklog = errors.New("the agent has not read earlier call ends yet")

// ErrUnknownCall is returned by End for a callChainId never announced (or forgotten).
var ErrUnknownCall = errors.New("no announced call has this callChainId")

// Identities keeps announced call identities. It is safe for concurrent use.
type Identities struct {
	now   func() time.Time
	ended chan string

	// mu guards list; Lookup scans it, which at a few entries costs less than keeping indexes
	// per port in step with replacements, ends and expiry.
	mu   sync.Mutex
	list []*Identity // in announcement order
}

// NewIdentities returns an empty store; now is the wall clock (time.Now outside tests).
func NewIdentities(now func() time.Time) *Identities {
	return &Identities{now: now, ended: make(chan string, endedBuffer)}
}

// Announce records id, stamping id.Announced with the current time when it is zero, and returns
// what it stored. An announcement with the same callChainId and mediaLegId as an earlier one
// replaces it.
func (s *Identities) Announce(id Identity) Identity {
	now := s.now()
	if id.Announced.IsZero() {
		id.Announced = now
	}
	id.Ended = time.Time{}
	id.LocalPorts = slices.Clone(id.LocalPorts)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	s.list = slices.DeleteFunc(s.list, func(e *Identity) bool {
		return e.CallChainID == id.CallChainID && e.MediaLegID == id.MediaLegID
	})
	if len(s.list) >= maxIdentities {
		s.list = slices.Delete(s.list, 0, len(s.list)-maxIdentities+1)
	}
	s.list = append(s.list, &id)
	return id.clone()
}

// Lookup returns the identity in force for the call on localPort at time at (an instant of the
// call; its first packet is best): the latest announcement for that port made at or before at
// that had not ended before at; failing that, the earliest made after at (the application may
// announce a call after its media started, and with identity "require" the agent waits for
// it). Announcements naming the port win over those naming no port. Announcements expire
// IdentityTTL after they were made.
func (s *Identities) Lookup(localPort uint16, at time.Time) (Identity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(s.now())
	if e := s.find(at, func(e *Identity) bool { return slices.Contains(e.LocalPorts, localPort) }); e != nil {
		return e.clone(), true
	}
	if e := s.find(at, func(e *Identity) bool { return len(e.LocalPorts) == 0 }); e != nil {
		return e.clone(), true
	}
	return Identity{}, false
}

func (s *Identities) find(at time.Time, match func(*Identity) bool) *Identity {
	var before, after *Identity
	for _, e := range s.list {
		if !match(e) || !at.Before(e.Announced.Add(IdentityTTL)) {
			continue
		}
		if !e.Announced.After(at) {
			if !e.Ended.IsZero() && e.Ended.Before(at) {
				continue
			}
			if before == nil || !e.Announced.Before(before.Announced) {
				before = e
			}
		} else if e.Announced.Sub(at) < IdentityTTL && (after == nil || e.Announced.Before(after.Announced)) {
			after = e
		}
	}
	if before != nil {
		return before
	}
	return after
}

// End marks every announcement of callChainID ended now and tells the agent through Ended.
func (s *Identities) End(callChainID string) error {
	now := s.now()
	s.mu.Lock()
	found := false
	for _, e := range s.list {
		if e.CallChainID == callChainID {
			found = true
			if e.Ended.IsZero() {
				e.Ended = now
			}
		}
	}
	s.mu.Unlock()
	if !found {
		return ErrUnknownCall
	}
	select {
	case s.ended <- callChainID:
		return nil
	default:
		return ErrEndedBacklog
	}
}

// Ended delivers the callChainId of each call the application ended explicitly. The agent
// reads it for as long as it runs; ends it does not read within endedBuffer are refused to
// the application (End returns ErrEndedBacklog), never blocked on.
func (s *Identities) Ended() <-chan string { return s.ended }

// List returns the live announcements, oldest first.
func (s *Identities) List() []Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(s.now())
	out := make([]Identity, 0, len(s.list))
	for _, e := range s.list {
		out = append(out, e.clone())
	}
	return out
}

// Len is the number of live announcements.
func (s *Identities) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(s.now())
	return len(s.list)
}

func (s *Identities) expireLocked(now time.Time) {
	s.list = slices.DeleteFunc(s.list, func(e *Identity) bool {
		return !now.Before(e.Announced.Add(IdentityTTL))
	})
}

func (e *Identity) clone() Identity {
	c := *e
	c.LocalPorts = append([]uint16{}, e.LocalPorts...) // [] rather than null in JSON
	c.ClockRates = maps.Clone(e.ClockRates)
	return c
}
