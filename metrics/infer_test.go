package metrics

import (
	"math/rand/v2"
	"testing"

	"github.com/tdq-agent/tdq-agent/capture"
)

// feed sends n packets of one stream: packet i has timestamp i*step at arrival i*spacing plus
// the jitter function's offset; frames > 1 sends that many packets per timestamp (video).
func feed(e *Engine, pt uint8, n int, step uint32, spacing int64, frames int, jit func(i int) int64) *Stream {
	var s *Stream
	seq := uint16(1000)
	for i := 0; i < n; i++ {
		for f := 0; f < frames; f++ {
			at := t0 + int64(i)*spacing + jit(i) + int64(f)*ms/2
			s, _ = e.RTP(rtpPkt(at, seq, uint32(i)*step, pt, frames > 1 && f == frames-1))
			seq++
		}
	}
	return s
}

func noJitter(int) int64 { return 0 }

// TestClockInference: a dynamic payload type without a configured rate gets its clock from
// timestamp steps against arrival spacing, snapped to a standard rate; static types and
// configured ones are never second-guessed.
func TestClockInference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	jitter2ms := func(int) int64 { return rng.Int64N(4*ms) - 2*ms }
	cases := []struct {
		name    string
		cfg     map[uint8]uint32
		pt      uint8
		n       int
		step    uint32
		spacing int64
		frames  int
		jit     func(int) int64
		want    uint32
		source  ClockSource
		samples uint64 // jitter samples: every packet from the second on once the clock is known
	}{
		// Opus: 960 per 20 ms = 48000/s; the first window of 16 decides, and its packets are
		// measured after all: 50 packets, 49 samples.
		{"opus 48 kHz with 2 ms jitter", nil, 111, 50, 960, 20 * ms, 1, jitter2ms, 48000, ClockInferred, 49},
		// 441 per 10 ms = 44100/s, 8.8 % from 48000: must not be confused with it.
		{"L16 44.1 kHz", nil, 100, 50, 441, 10 * ms, 1, noJitter, 44100, ClockInferred, 49},
		// 16 kHz wideband, 60 ms packets: 960 per 60 ms = 16000/s.
		{"16 kHz, 60 ms packets", nil, 108, 40, 960, 60 * ms, 1, noJitter, 16000, ClockInferred, 39},
		// Video: 3 packets per frame sharing a timestamp, 3000 per 33.3 ms = 90000/s. Pairs inside
		// a frame say nothing, and the 0.5 ms bursts are under the 2 ms floor.
		{"video 90 kHz, 3 packets a frame", nil, 96, 100, 3000, 100 * ms / 3, 3, noJitter, 90000, ClockInferred, 0},
		// Timestamps that follow no clock: no standard rate, no jitter at all.
		{"no clock in the timestamps", nil, 97, 1500, 0, 20 * ms, 1, noJitter, 0, ClockUnknown, 0},
		// The config wins even when the timestamps say otherwise.
		{"configured rate", map[uint8]uint32{111: 48000}, 111, 20, 320, 20 * ms, 1, noJitter, 48000, ClockConfig, 19},
		// G.722 is 8000 Hz by RFC 3551 although it samples at 16 kHz: never inferred, even from a
		// peer that steps its timestamps at 16 kHz.
		{"static G.722 stays 8000", nil, 9, 20, 320, 20 * ms, 1, noJitter, 8000, ClockStatic, 19},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ClockRates = tc.cfg
			e := NewEngine(cfg)
			step := tc.step
			var s *Stream
			if step == 0 { // random timestamps
				r := rand.New(rand.NewPCG(3, 4))
				for i := 0; i < tc.n; i++ {
					s, _ = e.RTP(rtpPkt(t0+int64(i)*tc.spacing, uint16(i), r.Uint32(), tc.pt, false))
				}
			} else {
				s = feed(e, tc.pt, tc.n, step, tc.spacing, tc.frames, tc.jit)
			}
			st := s.Stats()
			if st.ClockRate != tc.want || st.ClockSource != tc.source {
				t.Fatalf("clock %d (%s), want %d (%s)", st.ClockRate, st.ClockSource, tc.want, tc.source)
			}
			if tc.samples > 0 && st.JitterSamples != tc.samples {
				t.Errorf("jitter samples %d, want %d", st.JitterSamples, tc.samples)
			}
			if tc.want == 0 && st.JitterSamples != 0 {
				t.Errorf("jitter measured with no clock: %d samples", st.JitterSamples)
			}
		})
	}
}

// TestUseClockRates: rates signalled for the call win over inference for a dynamic payload type
// and are labelled "sdp"; a static type keeps RFC 3551's rate whatever is signalled.
func TestUseClockRates(t *testing.T) {
	e := NewEngine(DefaultConfig())
	s, _ := e.RTP(rtpPkt(t0, 1, 0, 111, false))
	s.UseClockRates(map[uint8]uint32{111: 48000, 101: 8000})
	for i := 1; i < 20; i++ {
		e.RTP(rtpPkt(t0+int64(i)*20*ms, uint16(1+i), uint32(i)*960, 111, false))
	}
	st := s.Stats()
	if st.ClockRate != 48000 || st.ClockSource != ClockSDP || st.JitterSamples != 18 {
		t.Errorf("clock %d (%s), %d samples; want 48000 (sdp) and 18 samples from the third packet", st.ClockRate, st.ClockSource, st.JitterSamples)
	}
	p, _ := e.RTP(&capture.Packet{Time: t0, Src: remote, Dst: local, Kind: capture.KindRTP, Payload: rtpBytes(1, 0, 8, false, 0x77, 160)})
	p.UseClockRates(map[uint8]uint32{8: 16000})
	if st := p.Stats(); st.ClockRate != 8000 || st.ClockSource != ClockStatic {
		t.Errorf("static PCMA became %d (%s)", st.ClockRate, st.ClockSource)
	}
}
