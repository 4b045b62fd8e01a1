package agent

import (
	"sort"
	"time"

	"github.com/tdq-agent/tdq-agent/capture"
)

// kinds is how many capture.Kind values there are, for per-kind counters.
const kinds = int(capture.KindDTLS) + 1

// SourceStatus is what one capture source hands over once a second for health and metrics: the
// per-packet path only bumps counters in its own run; this copy is what other goroutines read.
type SourceStatus struct {
	Source       string
	Running      bool
	Err          string // why the source stopped, if it failed
	Packets      [kinds]uint64
	Bytes        [kinds]uint64 // UDP payload bytes
	Malformed    uint64        // frames and RTP packets the decoders refused
	RTCPErrors   uint64        // RTCP sub-packets that overran their datagram or did not parse
	Streams      int
	Channels     int
	Calls        int
	CallsEnded   int
	CaptureDrops uint64
	Updated      time.Time
}

// Status returns the latest status of every source, by name.
func (a *Agent) Status() []SourceStatus {
	a.statusMu.Lock()
	defer a.statusMu.Unlock()
	out := make([]SourceStatus, 0, len(a.status))
	for _, s := range a.status {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// publish copies the run's counters for Status; the run calls it once a second and at its end.
func (r *run) publish(running bool, err error, frames capture.Stats) {
	c := r.engine.Counters()
	st := SourceStatus{
		Source: r.source, Running: running,
		Packets: r.kindPackets, Bytes: r.kindBytes,
		Malformed:    frames.Malformed + c.MalformedRTP,
		RTCPErrors:   c.RTCPErrors,
		Streams:      r.engine.Streams(),
		Channels:     len(r.tracker.channels),
		Calls:        len(r.tracker.order),
		CallsEnded:   r.calls,
		CaptureDrops: r.drops,
		Updated:      time.Now(),
	}
	if err != nil {
		st.Err = err.Error()
	}
	r.a.statusMu.Lock()
	if r.a.status == nil {
		r.a.status = make(map[string]SourceStatus)
	}
	r.a.status[r.source] = st
	r.a.statusMu.Unlock()
}
