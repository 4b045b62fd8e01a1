package metrics

import "math"

// guessPackets is how many packets a stream of unknown clock collects before inferring it; their
// jitter is computed once the clock is known, so nothing is lost by waiting.
const guessPackets = 16

// guessTries bounds how many windows of guessPackets are tried before the clock stays unknown.
const guessTries = 4

// standardClocks are the RTP clock rates in use (RFC 3551, RFC 7587 for Opus, video's 90 kHz).
var standardClocks = [...]float64{8000, 16000, 24000, 32000, 44100, 48000, 90000}

// maxClockError is how far the measured rate may be from a standard one: 44.1 and 48 kHz are
// 8.8 % apart, so anything looser would confuse them.
const maxClockError = 0.04

// minWindowSpan is the shortest arrival span a window may conclude on.
const minWindowSpan = int64(100e6)

type guessPacket struct {
	arrival int64
	ts      uint32
	regular bool
}

// clockGuess infers a dynamic payload type's clock when neither the config nor signalling gives
// it: the timestamp advance over the arrival span of a window of packets, snapped to a standard
// rate. Over a window of 16 audio packets (300 ms and more) a few milliseconds of jitter move the
// rate by about 1 %; bursty video or heavy reordering miss the tolerance and fall to the slope
// over 2 s.
type clockGuess struct {
	n     int
	tries int
	pkts  [guessPackets]guessPacket
	slope slopeGuess
}

// slopeGuess runs beside the windows and decides when consecutive packets disagree too much
// (bursty video, heavy jitter or reordering): the timestamp advance over at least slopeSpan of
// arrival time. It is slower to conclude, and of the packets it waited for only the last window's
// give jitter.
type slopeGuess struct {
	started bool
	first   int64
	lastTS  uint32
	advance int64
}

const (
	slopeSpan    = int64(2e9)
	slopeGiveUp  = int64(20e9)
	slopeMaxErr  = 0.03
	slopeMinStep = 0
)

// add keeps one packet and, once the window is full, returns the inferred rate or 0.
func (g *clockGuess) add(arrival int64, ts uint32, regular bool) float64 {
	if hz := g.slope.add(arrival, ts); hz != 0 {
		return hz
	}
	if g.tries >= guessTries {
		return 0
	}
	g.pkts[g.n] = guessPacket{arrival, ts, regular}
	g.n++
	if g.n < guessPackets {
		return 0
	}
	g.tries++
	// The timestamp advance over the window's arrival span; steps back (reordering) and steps
	// of zero (packets of one frame) add nothing, the stream passes them again later.
	var advance int64
	last := g.pkts[0].ts
	for _, p := range g.pkts[1:] {
		if d := int32(p.ts - last); d > 0 {
			advance += int64(d)
			last = p.ts
		}
	}
	span := g.pkts[guessPackets-1].arrival - g.pkts[0].arrival
	if span >= minWindowSpan && advance > 0 {
		if std := snap(float64(advance)/(float64(span)*1e-9), maxClockError); std != 0 {
			return std
		}
	}
	g.n = 0
	return 0
}

// snap returns the standard clock within tolerance of rate, or 0.
func snap(rate, tolerance float64) float64 {
	for _, std := range standardClocks {
		if math.Abs(rate/std-1) <= tolerance {
			return std
		}
	}
	return 0
}

// exhausted reports that neither the windows nor the slope gave a standard rate.
func (g *clockGuess) exhausted() bool { return g.tries >= guessTries && g.slope.advance < 0 }

// window returns the packets collected since the last window closed, in arrival order.
func (g *clockGuess) window() []guessPacket { return g.pkts[:g.n] }

// add returns the rate once slopeSpan of arrival time has passed, or 0; a timestamp that steps
// back (reordering) is skipped until the stream passes it again.
func (s *slopeGuess) add(arrival int64, ts uint32) float64 {
	if !s.started {
		s.started, s.first, s.lastTS = true, arrival, ts
		return 0
	}
	if s.advance < 0 {
		return 0
	}
	if d := int32(ts - s.lastTS); d > slopeMinStep {
		s.advance += int64(d)
		s.lastTS = ts
	}
	span := arrival - s.first
	if span < slopeSpan {
		return 0
	}
	if std := snap(float64(s.advance)/(float64(span)*1e-9), slopeMaxErr); std != 0 {
		return std
	}
	if span > slopeGiveUp {
		s.advance = -1 // no standard rate: stop trying
	}
	return 0
}
