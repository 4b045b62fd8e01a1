package metrics

import (
	"math"
	"testing"
)

// pk is one packet fed to the estimator: arrival (ns), RTP timestamp, clock (Hz, 0 unknown),
// and whether its value is a sample for the mean and maximum.
type pk struct {
	at      int64
	ts      uint32
	hz      float64
	regular bool
}

// on8k is a regular packet at 8 kHz.
func on8k(at int64, ts uint32) pk { return pk{at, ts, 8000, true} }

func feedJitter(pkts []pk) *jitter {
	var j jitter
	for _, p := range pkts {
		j.update(p.at, p.ts, p.hz, p.regular)
	}
	return &j
}

const eps = 1e-15 // seconds: float noise of a few ulps on values near 1e-3

func near(a, b float64) bool { return math.Abs(a-b) <= eps }

// TestJitterByHand works RFC 3550 A.8 out for short sequences at 8 kHz, 20 ms (160 units)
// apart. D(i-1,i) = (R_i - R_{i-1}) - (S_i - S_{i-1}) in seconds; J_i = J_{i-1} + (|D| - J_{i-1})/16.
func TestJitterByHand(t *testing.T) {
	// One packet 10 ms late: arrivals 0, 20, 50, 60, 80 ms; timestamps 0, 160, 320, 480, 640.
	//   P2: D = 20 - 20 = 0                   J2 = 0
	//   P3: D = 30 - 20 = 10 ms               J3 = 0 + (0.010 - 0)/16 = 0.000625
	//   P4: D = 10 - 20 = -10 ms, |D| = 0.010 J4 = 0.000625 + (0.010 - 0.000625)/16
	//                                            = 0.000625 + 0.0005859375 = 0.0012109375
	//   P5: D = 20 - 20 = 0                   J5 = 0.0012109375 * 15/16 = 0.00113525390625
	// Samples J2..J5; max 0.0012109375; mean (0 + 0.000625 + 0.0012109375 + 0.00113525390625)/4
	//   = 0.00297119140625 / 4 = 0.0007427978515625.
	late := []pk{on8k(0, 0), on8k(20*ms, 160), on8k(50*ms, 320), on8k(60*ms, 480), on8k(80*ms, 640)}

	// The same with timestamps that wrap: 0xFFFFFEC0 + 160 = 0xFFFFFF60, + 160 = 0x00000000
	// (mod 2^32), then 0xA0, 0x140. The signed 32-bit difference is 160 each time.
	wrap := []pk{on8k(0, 0xFFFFFEC0), on8k(20*ms, 0xFFFFFF60), on8k(50*ms, 0), on8k(60*ms, 0xA0), on8k(80*ms, 0x140)}

	tests := []struct {
		name           string
		pkts           []pk
		j, mean, max   float64
		samples, count uint64
	}{
		// D = 0.020 - 160/8000 = 0 for every pair: J stays 0.
		{"constant spacing", []pk{on8k(0, 0), on8k(20*ms, 160), on8k(40*ms, 320), on8k(60*ms, 480)},
			0, 0, 0, 3, 4},
		{"one packet 10 ms late", late, 0.00113525390625, 0.0007427978515625, 0.0012109375, 4, 5},
		{"timestamp wrap", wrap, 0.00113525390625, 0.0007427978515625, 0.0012109375, 4, 5},
		// Transit going down: the 2nd packet is 10 ms early. D = 10 - 20 = -10 ms: |D| = 0.010,
		// J = 0.000625 (a naive unsigned difference would be huge).
		{"early packet", []pk{on8k(0, 0), on8k(10*ms, 160)}, 0.000625, 0.000625, 0.000625, 1, 2},
		// The timestamp steps back 160 while 20 ms pass: D = 0.020 - (-0.020) = 0.040,
		// J = 0.040/16 = 0.0025. ts - last = 0xFFFFFF60, read as int32 = -160.
		{"timestamp steps back", []pk{on8k(0, 1000), on8k(20*ms, 840)}, 0.0025, 0.0025, 0.0025, 1, 2},
		// Arrival steps back (capture clock stepped): D = -0.030 - 0.020 = -0.050, J = 0.003125.
		{"arrival steps back", []pk{on8k(100*ms, 0), on8k(70*ms, 160)}, 0.003125, 0.003125, 0.003125, 1, 2},
		// A 90 kHz stream, 40 ms (3600 units) apart, the 3rd packet 4 ms late:
		//   P2: D = 0 -> 0; P3: D = 44 - 40 = 4 ms -> J = 0.004/16 = 0.00025.
		// mean (0 + 0.00025)/2 = 0.000125.
		{"video clock", []pk{{0, 0, 90000, true}, {40 * ms, 3600, 90000, true}, {84 * ms, 7200, 90000, true}},
			0.00025, 0.000125, 0.00025, 2, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := feedJitter(tc.pkts)
			if !near(j.j, tc.j) || !near(j.mean, tc.mean) || !near(j.max, tc.max) || j.n != tc.samples || j.packets != tc.count {
				t.Errorf("J %.17g mean %.17g max %.17g samples %d packets %d\nwant %.17g mean %.17g max %.17g samples %d packets %d",
					j.j, j.mean, j.max, j.n, j.packets, tc.j, tc.mean, tc.max, tc.samples, tc.count)
			}
		})
	}
}

// TestJitterWrapSameAsNoWrap compares the wrapped and unwrapped runs bit for bit.
func TestJitterWrapSameAsNoWrap(t *testing.T) {
	var plain, wrapped []pk
	at := int64(0)
	for i := range 200 {
		at += 20*ms + int64(i%7)*ms - 3*ms // 17 to 23 ms apart
		plain = append(plain, on8k(at, uint32(i)*160))
		wrapped = append(wrapped, on8k(at, uint32(i)*160-100*160)) // crosses 2^32 at i = 100
	}
	a, b := feedJitter(plain), feedJitter(wrapped)
	if a.j != b.j || a.mean != b.mean || a.max != b.max || a.n != b.n {
		t.Errorf("wrap changes the result: %+v vs %+v", *a, *b)
	}
	if a.max == 0 {
		t.Error("test stream has no jitter at all")
	}
}

// TestJitterSkippedPackets works out Wireshark's running mean, mean = (mean·(k−1) + J)/k with
// k = packets before this one, when some packets are not samples.
func TestJitterSkippedPackets(t *testing.T) {
	tests := []struct {
		name         string
		pkts         []pk
		j, mean, max float64
		samples      uint64
	}{
		// Unknown clock (an RFC 4733 event with the event's start timestamp) is not a reference:
		// P2 (clock unknown) arrives at 30 ms carrying ts 0, the event's start.
		//   P2: no clock, no difference, the reference stays at P1 (0 ms, 0).
		//   P3 at 40 ms, ts 320: D = (40 - 0) - 40 = 0 -> J = 0.
		//   (Measured from P2 instead it would be D = (40 - 30) - 40 = -30 ms, J = 0.001875.)
		// One sample; k = 2 packets before P3: mean = (0·1 + 0)/2 = 0.
		{"unknown clock is not a reference",
			[]pk{on8k(0, 0), {30 * ms, 0, 0, true}, on8k(40*ms, 320)},
			0, 0, 0, 1},
		// Marker packets feed J but are not samples:
		//   P2 20 ms, ts 160: D = 0, J = 0, sample: k = 1, mean = 0.
		//   P3 marker, 50 ms, ts 320: D = 10 ms, J = 0.000625, not a sample.
		//   P4 70 ms, ts 480: D = 20 - 20 = 0, J = 0.000625·15/16 = 0.0005859375, sample:
		//      k = 3, mean = (0·2 + 0.0005859375)/3 = 0.0001953125.
		// max = 0.0005859375: the marker's 0.000625 is left out.
		{"marker packet is not a sample",
			[]pk{on8k(0, 0), on8k(20*ms, 160), {50 * ms, 320, 8000, false}, on8k(70*ms, 480)},
			0.0005859375, 0.0001953125, 0.0005859375, 2},
		// Two skipped packets in a row, then regular ones, all on time but P4:
		//   P2 sample J=0 (k=1, mean 0); P3, P4 not samples; P4 10 ms late: J = 0.000625.
		//   P5 on time: D = -10 ms, J = 0.000625 + (0.010 - 0.000625)/16 = 0.0012109375,
		//   k = 4: mean = (0·3 + 0.0012109375)/4 = 0.000302734375.
		//   P6 on time: D = 0, J = 0.0012109375·15/16 = 0.00113525390625,
		//   k = 5: mean = (0.000302734375·4 + 0.00113525390625)/5
		//          = (0.0012109375 + 0.00113525390625)/5 = 0.00234619140625/5 = 0.00046923828125.
		{"two skipped then regular",
			[]pk{on8k(0, 0), on8k(20*ms, 160), {40 * ms, 320, 8000, false}, {70 * ms, 480, 8000, false},
				on8k(80*ms, 640), on8k(100*ms, 800)},
			0.00113525390625, 0.00046923828125, 0.0012109375, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := feedJitter(tc.pkts)
			if !near(j.j, tc.j) || !near(j.mean, tc.mean) || !near(j.max, tc.max) || j.n != tc.samples {
				t.Errorf("J %.17g mean %.17g max %.17g samples %d\nwant %.17g mean %.17g max %.17g samples %d",
					j.j, j.mean, j.max, j.n, tc.j, tc.mean, tc.max, tc.samples)
			}
		})
	}
}

// TestJitterRunningMeanIsPlainMean: when every packet is regular, Wireshark's running mean is
// the plain mean of the values after each packet from the second on (DESIGN §4). The reference
// here is A.8 again, written out independently.
func TestJitterRunningMeanIsPlainMean(t *testing.T) {
	var pkts []pk
	at := int64(0)
	for i := range 500 {
		at += 20*ms + int64((i*7919)%11-5)*ms/2 // 17.5 to 22.5 ms apart
		pkts = append(pkts, on8k(at, uint32(i)*160))
	}
	var J, sum, maxJ float64
	for i := 1; i < len(pkts); i++ {
		d := float64(pkts[i].at-pkts[i-1].at)/1e9 - float64(pkts[i].ts-pkts[i-1].ts)/8000
		J += (math.Abs(d) - J) / 16
		sum += J
		maxJ = max(maxJ, J)
	}
	want := sum / float64(len(pkts)-1)
	j := feedJitter(pkts)
	if math.Abs(j.mean-want) > 1e-12 || math.Abs(j.max-maxJ) > 1e-15 || j.n != uint64(len(pkts)-1) {
		t.Errorf("mean %.17g max %.17g n %d; want plain mean %.17g max %.17g n %d", j.mean, j.max, j.n, want, maxJ, len(pkts)-1)
	}
}

// TestStreamJitterSeconds goes through Engine.RTP: PCMA (PT 8, 8 kHz by RFC 3551) with the
// one-late-packet sequence, then comfort noise (PT 13) whose packet and the one after it feed
// J but are not samples.
func TestStreamJitterSeconds(t *testing.T) {
	type p struct {
		at     int64
		seq    uint16
		ts     uint32
		pt     uint8
		marker bool
	}
	tests := []struct {
		name            string
		pkts            []p
		mean, max       float64
		samples         uint64
		clock           uint32
		cfgRates        map[uint8]uint32
		wantClockSource ClockSource
	}{
		// As in TestJitterByHand: mean 0.0007427978515625 s, max 0.0012109375 s.
		{"PCMA one late packet", []p{{0, 1, 0, 8, false}, {20 * ms, 2, 160, 8, false}, {50 * ms, 3, 320, 8, false},
			{60 * ms, 4, 480, 8, false}, {80 * ms, 5, 640, 8, false}},
			0.0007427978515625, 0.0012109375, 4, 8000, nil, ClockStatic},
		// P2 sample (J 0, k 1, mean 0). P3 is CN, P4 follows CN: not samples. P4 is 10 ms
		// late: J = 0.000625. P5 on time: D = -10 ms, J = 0.0012109375, k = 4:
		// mean = (0·3 + 0.0012109375)/4 = 0.000302734375.
		{"comfort noise and the packet after it", []p{{0, 1, 0, 0, false}, {20 * ms, 2, 160, 0, false},
			{40 * ms, 3, 320, 13, false}, {110 * ms, 4, 800, 0, false}, {120 * ms, 5, 960, 0, false}},
			0.000302734375, 0.0012109375, 2, 8000, nil, ClockStatic},
		// A marker packet (start of a talkspurt) is not a sample either: P3 marker 10 ms late,
		// P4 on time relative to P3. As in TestJitterSkippedPackets: mean 0.0001953125,
		// max 0.0005859375.
		{"marker", []p{{0, 1, 0, 8, false}, {20 * ms, 2, 160, 8, false}, {50 * ms, 3, 320, 8, true},
			{70 * ms, 4, 480, 8, false}},
			0.0001953125, 0.0005859375, 2, 8000, nil, ClockStatic},
		// Opus on PT 111 at 48 kHz from the config: 960 units per 20 ms, P3 4 ms late:
		// D = 4 ms, J = 0.00025; samples 0, 0.00025: mean 0.000125.
		{"configured dynamic clock", []p{{0, 1, 0, 111, false}, {20 * ms, 2, 960, 111, false}, {44 * ms, 3, 1920, 111, false}},
			0.000125, 0.00025, 2, 48000, map[uint8]uint32{111: 48000}, ClockConfig},
		{"dynamic type without a clock", []p{{0, 1, 0, 111, false}, {20 * ms, 2, 960, 111, false}, {44 * ms, 3, 1920, 111, false}},
			0, 0, 0, 0, nil, ClockUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ClockRates = tc.cfgRates
			e := NewEngine(cfg)
			var st *Stream
			for _, q := range tc.pkts {
				st, _ = e.RTP(rtpPkt(t0+q.at, q.seq, q.ts, q.pt, q.marker))
			}
			got := st.Stats()
			if !near(got.JitterMean, tc.mean) || !near(got.JitterMax, tc.max) || got.JitterSamples != tc.samples {
				t.Errorf("mean %.17g max %.17g samples %d; want %.17g, %.17g, %d",
					got.JitterMean, got.JitterMax, got.JitterSamples, tc.mean, tc.max, tc.samples)
			}
			if got.ClockRate != tc.clock || got.ClockSource != tc.wantClockSource {
				t.Errorf("clock %d (%v), want %d (%v)", got.ClockRate, got.ClockSource, tc.clock, tc.wantClockSource)
			}
		})
	}
}

// TestStreamDuplicateFeedsNoJitter: an exact copy must not feed the estimator (DESIGN §4).
// Fed, the copy of P2 arriving 10 ms after it would give D = 10 ms - 0 and J = 0.000625; left
// out, the stream is steady and J stays 0.
func TestStreamDuplicateFeedsNoJitter(t *testing.T) {
	e := NewEngine(DefaultConfig())
	e.RTP(rtpPkt(t0, 1, 0, 8, false))
	e.RTP(rtpPkt(t0+20*ms, 2, 160, 8, false))
	e.RTP(rtpPkt(t0+30*ms, 2, 160, 8, false)) // the copy
	st, _ := e.RTP(rtpPkt(t0+40*ms, 3, 320, 8, false))
	got := st.Stats()
	if got.JitterMax != 0 || got.JitterSamples != 2 || got.Duplicates != 1 {
		t.Errorf("max %g samples %d duplicates %d; want 0, 2, 1", got.JitterMax, got.JitterSamples, got.Duplicates)
	}
}

// TestJitterBoundsTimestampJumps: a transit step over 3 s (a timestamp restart after a long
// silence) is not jitter. Worked by hand at 8 kHz:
//
//	P1 0 ms ts 0; P2 20 ms ts 160: D = 0, J = 0.
//	P3 43 s later, ts restarts at 0: D = 43.02 s - (0-160)/8000 s = 43.04 s > 3 s: left out,
//	   J stays 0, the reference moves to P3.
//	P4 43.04 s ts 160: D = 20 ms - 20 ms = 0, J = 0.
//	P5 43.07 s ts 320: D = 30 ms - 20 ms = 10 ms, J = 0.010/16 = 0.000625.
//
// Without the bound P3 alone would have made J = 43.04/16 = 2.69 s.
func TestJitterBoundsTimestampJumps(t *testing.T) {
	j := feedJitter([]pk{on8k(0, 0), on8k(20*ms, 160), on8k(43040*ms, 0), on8k(43060*ms, 160), on8k(43090*ms, 320)})
	if !near(j.j, 0.000625) || !near(j.max, 0.000625) || j.jumps != 1 || j.n != 3 {
		t.Errorf("J %.17g max %.17g jumps %d samples %d; want 0.000625, 0.000625, 1, 3", j.j, j.max, j.jumps, j.n)
	}
	// 2.9 s is under the bound: an extreme but real delay spike still counts.
	j = feedJitter([]pk{on8k(0, 0), on8k(2920*ms, 160)})
	if !near(j.j, 2.9/16) || j.jumps != 0 {
		t.Errorf("J %.17g jumps %d; want %.17g, 0", j.j, j.jumps, 2.9/16)
	}
}
