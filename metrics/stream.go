package metrics

import (
	"net/netip"

	"github.com/tdq-agent/tdq-agent/capture"
)

// StreamKey names one RTP stream: one SSRC in one direction between two transport addresses.
type StreamKey struct {
	Src, Dst netip.AddrPort
	SSRC     uint32
}

// dupSlots is how many recent packets a stream remembers to spot exact duplicates; a copy that
// arrives more than this many packets late is counted as a late packet instead.
const dupSlots = 32

type dupEntry struct {
	seq   uint16
	valid bool
	ts    uint32
}

// Stream is the per-SSRC state the hot path updates. Its size is fixed after creation.
type Stream struct {
	key         StreamKey
	payloadType uint8
	clockRate   uint32
	clockSource ClockSource

	first, last int64 // arrival of the first and latest packet, ns
	packets     uint64
	duplicates  uint64
	bytes       uint64
	frames      uint64 // distinct timestamps in arrival order: video frames, audio packets
	lastTS      uint32
	lastPT      uint8
	clocks      *map[uint8]uint32 // configured dynamic rates, shared with the engine
	guess       *clockGuess       // while the first payload type's clock is being inferred
	sdp         bool              // clocks holds rates signalled for this stream, not the config's

	seq seqTracker
	jit jitter
	win lossWindow

	// Tag is free for the engine's owner: the agent files the stream's channel there, so the
	// per-packet path finds it without a map lookup.
	Tag uint32

	next *Stream // next stream with the same digest in the engine's table

	dups [dupSlots]dupEntry
}

func newStream(k StreamKey, h *capture.RTPHeader, arrival int64, cfg *Config) *Stream {
	s := &Stream{key: k, payloadType: h.PayloadType, first: arrival, lastPT: h.PayloadType}
	s.clocks = &cfg.ClockRates
	s.clockRate, s.clockSource = clockRate(h.PayloadType, cfg.ClockRates)
	if s.clockRate == 0 && h.PayloadType >= 96 {
		s.guess = &clockGuess{}
	}
	s.win.size = int64(cfg.Window)
	s.seq.start(h.Seq)
	s.packets = 1
	s.frames = 1
	s.lastTS = h.Timestamp
	s.bytes = uint64(h.PayloadLen)
	s.last = arrival
	s.remember(h)
	s.jitterUpdate(h, arrival)
	s.win.start(arrival)
	return s
}

// update takes the next packet of the stream. It allocates nothing.
func (s *Stream) update(h *capture.RTPHeader, arrival int64) {
	if s.isDuplicate(h) {
		s.duplicates++
		return
	}
	s.remember(h)
	s.packets++
	s.bytes += uint64(h.PayloadLen)
	if h.Timestamp != s.lastTS {
		s.frames++
		s.lastTS = h.Timestamp
	}
	if arrival > s.last {
		s.last = arrival
	}
	s.win.update(arrival, &s.seq)
	s.seq.update(h.Seq, h.Marker)
	s.jitterUpdate(h, arrival)
}

// UseClockRates gives the stream the rates the call's signalling (SDP) gave its dynamic payload
// types; they win over the config and over inference. It is called once, when the stream is new.
func (s *Stream) UseClockRates(rates map[uint8]uint32) {
	if len(rates) == 0 {
		return
	}
	merged := make(map[uint8]uint32, len(rates)+len(*s.clocks))
	for pt, hz := range *s.clocks {
		merged[pt] = hz
	}
	for pt, hz := range rates {
		merged[pt] = hz
	}
	s.clocks, s.sdp = &merged, true
	if hz, ok := rates[s.payloadType]; ok && hz > 0 && s.clockSource != ClockStatic {
		s.clockRate, s.clockSource = hz, ClockSDP
		s.guess = nil
	}
}

// jitterUpdate feeds the estimator with this packet's own clock rate, and learns the stream's
// clock from the first payload type that has one.
func (s *Stream) jitterUpdate(h *capture.RTPHeader, arrival int64) {
	pt := h.PayloadType
	hz, src := s.clockRate, s.clockSource
	if pt != s.payloadType {
		hz, src = clockRate(pt, *s.clocks)
		if src == ClockConfig && s.sdp {
			src = ClockSDP
		}
		if s.clockRate == 0 && hz != 0 {
			s.clockRate, s.clockSource, s.payloadType = hz, src, pt
			s.guess = nil // the guess was about the other payload type's packets
		}
	}
	cn := pt == ptCN || pt == ptCNOld || s.lastPT == ptCN || s.lastPT == ptCNOld
	s.lastPT = pt
	regular := !h.Marker && !cn
	if s.guess != nil && pt == s.payloadType {
		s.inferClock(arrival, h.Timestamp, regular)
		return
	}
	s.jit.update(arrival, h.Timestamp, float64(hz), regular)
}

// inferClock collects packets until their clock is known, then measures their jitter.
func (s *Stream) inferClock(arrival int64, ts uint32, regular bool) {
	hz := s.guess.add(arrival, ts, regular)
	if hz == 0 {
		if s.guess.exhausted() {
			s.guess = nil
		}
		return
	}
	s.clockRate, s.clockSource = uint32(hz), ClockInferred
	// Measure the packets still held; a window that concluded holds all it collected.
	for _, p := range s.guess.window() {
		s.jit.update(p.arrival, p.ts, hz, p.regular)
	}
	s.guess = nil
}

// Comfort noise payload types: RFC 3389's 13, and 19, which older equipment used for it.
const (
	ptCN    = 13
	ptCNOld = 19
)

// isDuplicate reports an exact copy of a recent packet: same sequence number and timestamp.
// Network duplicates and the same frame captured twice (two VLANs, two interfaces) look alike.
func (s *Stream) isDuplicate(h *capture.RTPHeader) bool {
	e := &s.dups[h.Seq%dupSlots]
	return e.valid && e.seq == h.Seq && e.ts == h.Timestamp
}

func (s *Stream) remember(h *capture.RTPHeader) {
	s.dups[h.Seq%dupSlots] = dupEntry{seq: h.Seq, valid: true, ts: h.Timestamp}
}

// StreamStats is a snapshot of a stream, safe to hand to another goroutine.
type StreamStats struct {
	Key         StreamKey
	PayloadType uint8
	ClockRate   uint32
	ClockSource ClockSource
	First, Last int64  // ns since the Unix epoch
	Packets     uint64 // RTP packets, exact duplicates excluded
	Duplicates  uint64
	Bytes       uint64 // RTP payload bytes
	Frames      uint64 // distinct RTP timestamps in arrival order
	Valid       bool   // passed RFC 3550 probation (two packets in sequence)

	// Expected and Lost follow RFC 3550 A.3; Lost is signed (duplicates the tracker could not
	// tell apart, or late packets, make it negative) and the record clamps it at zero.
	Expected int64
	Lost     int64
	Restarts uint64

	// Jitter is in seconds; JitterSamples is 0 when the clock rate is unknown or there was
	// only one packet, and then the jitter fields mean nothing.
	JitterSamples uint64
	JitterMean    float64
	JitterMax     float64

	// MaxWindowLoss is the largest loss percentage over the windows of metrics.window;
	// Windows is how many windows had packets expected.
	MaxWindowLoss float64
	Windows       int
}

// Stats returns a snapshot of the stream.
func (s *Stream) Stats() StreamStats {
	st := StreamStats{
		Key: s.key, PayloadType: s.payloadType, ClockRate: s.clockRate, ClockSource: s.clockSource,
		First: s.first, Last: s.last, Packets: s.packets, Duplicates: s.duplicates, Bytes: s.bytes,
		Frames: s.frames,
		Valid:  s.seq.valid(), Restarts: s.seq.restarts,
	}
	if st.Valid {
		st.Expected = s.seq.expected()
		st.Lost = st.Expected - int64(s.seq.receivedTotal())
	}
	if s.jit.n > 0 {
		st.JitterSamples = s.jit.n
		st.JitterMean = s.jit.mean
		st.JitterMax = s.jit.max
	}
	st.MaxWindowLoss, st.Windows = s.win.result(&s.seq)
	return st
}

// Key returns the stream's key.
func (s *Stream) Key() StreamKey { return s.key }

// Last returns the arrival time of the stream's latest packet, ns.
func (s *Stream) Last() int64 { return s.last }
