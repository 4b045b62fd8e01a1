package agent

import (
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/tdq-agent/tdq-agent/agent/ops"
	"github.com/tdq-agent/tdq-agent/metrics"
)

// Identities gives the identity the conferencing application announced for a local media port
// (DESIGN §6); ops.Identities, fed by the control input, is the one the agent uses.
type Identities interface {
	Lookup(localPort uint16, at time.Time) (ops.Identity, bool)
}

// SetIdentities makes the agent take announced identities. With require, a call with none is
// held up to wait for one to arrive, then sent with generated ids and a WARN. Call it before
// the sources start.
func (a *Agent) SetIdentities(ids Identities, require bool, wait time.Duration) {
	a.ids, a.requireIDs, a.idWait = ids, require, int64(wait)
}

// announced looks the call up by each of its channels' local ports, at its first packet.
func (a *Agent) announced(c *call) (ops.Identity, bool) {
	if a.ids == nil {
		return ops.Identity{}, false
	}
	for _, ch := range c.channels {
		if id, ok := a.ids.Lookup(ch.local.Port(), time.Unix(0, c.first)); ok {
			return id, true
		}
	}
	return ops.Identity{}, false
}

// withIdentity stamps an announced identity on a built record.
func (f *Finished) withIdentity(id ops.Identity) {
	q := &f.Body.Quality
	q.CallChainID, q.ParticipantID, q.MediaLegID = id.CallChainID, id.ParticipantID, id.MediaLegID
	f.GeneratedIDs = false
	js, err := json.Marshal(f.Body)
	if err != nil {
		panic("marshal record: " + err.Error()) // only a type the encoder cannot handle: a bug
	}
	f.JSON = js
}

// heldCall is a finished call waiting for its announced identity (identity: require).
type heldCall struct {
	f        *Finished
	c        *call // only its channels' ports and first packet time are read
	deadline int64
}

// endAnnounced ends the calls the application said were over (POST /v1/calls/{id}/end), at
// the next tick rather than after call.idle_timeout of silence.
func (r *run) endAnnounced() {
	if r.a.ids == nil {
		return
	}
	for _, c := range r.tracker.order {
		if id, ok := r.a.announced(c); ok && !id.Ended.IsZero() && id.Ended.UnixNano() >= c.first {
			r.tracker.remove(c)
			r.finish(c)
			return // the order changed; the next tick looks again
		}
	}
}

// releaseHeld emits the held calls whose identity arrived, or whose wait is over (all of them
// when final: the source is ending and nothing is dropped).
func (r *run) releaseHeld(now int64, final bool) {
	kept := r.held[:0]
	for _, h := range r.held {
		id, ok := r.a.announced(h.c)
		switch {
		case ok:
			h.f.withIdentity(id)
		case final || now >= h.deadline:
			r.a.log.Warn("no identity announced for the call in time; sending it with generated ids",
				zap.String("callChainId", h.f.Body.Quality.CallChainID), zap.Duration("waited", time.Duration(now-h.deadline+r.a.idWait)))
		default:
			kept = append(kept, h)
			continue
		}
		r.emit(h.f)
	}
	clear(r.held[len(kept):])
	r.held = kept
}

// signalledClocks gives a new stream the clock rates its call's SDP announced, looked up by the
// stream's local port. It runs once per stream.
func (r *run) signalledClocks(s *metrics.Stream) {
	if r.a.ids == nil {
		return
	}
	ch := r.tracker.channelOf(s)
	if id, ok := r.a.ids.Lookup(ch.local.Port(), time.Unix(0, s.Stats().First)); ok && len(id.ClockRates) > 0 {
		s.UseClockRates(id.ClockRates)
	}
}
