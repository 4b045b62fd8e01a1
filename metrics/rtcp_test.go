package metrics

import (
	"net/netip"
	"testing"

	"github.com/tdq-agent/tdq-agent/capture"
)

// The SSRCs of the RTCP tests: A sends media and SRs, B receives and reports on A.
const (
	ssrcA = 0x11111111
	ssrcB = 0x22222222
	ssrcC = 0x33333333
)

// srSDES is a compound SR + SDES from A (RFC 3550 §6.4.1, §6.5), byte by byte.
var srSDES = []byte{
	// SR
	0x81,       // V=2, P=0, RC=1
	0xc8,       // PT=200 SR
	0x00, 0x0c, // length 12: (12+1)·4 = 52 bytes = 4 header + 4 SSRC + 20 sender info + 24 block
	0x11, 0x11, 0x11, 0x11, // SSRC of sender: A
	0xe1, 0x23, 0x45, 0x67, // NTP timestamp, seconds (MSW)
	0x89, 0xab, 0xcd, 0xef, // NTP timestamp, fraction (LSW); middle 32 bits = 0x456789ab
	0x00, 0x00, 0x10, 0x00, // RTP timestamp 4096
	0x00, 0x00, 0x00, 0x64, // sender's packet count 100
	0x00, 0x00, 0x3e, 0x80, // sender's octet count 16000
	0x22, 0x22, 0x22, 0x22, // report block SSRC_1: B
	0x40,             // fraction lost 64/256: 100·64/256 = 25 %
	0x00, 0x00, 0x05, // cumulative number of packets lost 5
	0x00, 0x01, 0x00, 0x64, // extended highest sequence number: 1 cycle, seq 100
	0x00, 0x00, 0x00, 0x50, // interarrival jitter 80 units
	0x00, 0x00, 0x00, 0x00, // LSR 0: A has had no SR from B
	0x00, 0x00, 0x00, 0x00, // DLSR 0
	// SDES
	0x81,       // V=2, P=0, SC=1
	0xca,       // PT=202 SDES
	0x00, 0x03, // length 3: 16 bytes
	0x11, 0x11, 0x11, 0x11, // chunk SSRC: A
	0x01, 0x05, 'a', 'l', 'i', 'c', 'e', // CNAME, 5 bytes, "alice"
	0x00, // END; 2+5+1 = 8 bytes, the chunk ends on a 32-bit boundary
}

// rrSDES is a compound RR + SDES from B about A, answering srSDES.
var rrSDES = []byte{
	// RR
	0x81,       // V=2, P=0, RC=1
	0xc9,       // PT=201 RR
	0x00, 0x07, // length 7: 32 bytes = 4 header + 4 SSRC + 24 block
	0x22, 0x22, 0x22, 0x22, // SSRC of packet sender: B
	0x11, 0x11, 0x11, 0x11, // report block SSRC_1: A
	0x0d,             // fraction lost 13/256: 100·13/256 = 5.078125 %
	0xff, 0xff, 0xff, // cumulative lost 0xffffff: -1 in 24-bit two's complement
	0x00, 0x00, 0x27, 0x10, // extended highest sequence number 10000
	0x00, 0x00, 0x00, 0xc8, // interarrival jitter 200 units
	0x45, 0x67, 0x89, 0xab, // LSR: middle 32 bits of srSDES's NTP timestamp
	0x00, 0x00, 0x80, 0x00, // DLSR 0x8000/65536 s = 0.5 s
	// SDES
	0x81,       // V=2, P=0, SC=1
	0xca,       // PT=202 SDES
	0x00, 0x03, // length 3: 16 bytes
	0x22, 0x22, 0x22, 0x22, // chunk SSRC: B
	0x01, 0x03, 'b', 'o', 'b', // CNAME, 3 bytes, "bob"
	0x00, 0x00, 0x00, // END and padding to 32 bits: 2+3+3 = 8
}

// rtcpAt wraps an RTCP datagram captured at t (ns) from B to A's host.
func rtcpAt(t int64, b []byte) *capture.Packet {
	return &capture.Packet{Time: t, Src: remote, Dst: local, Kind: capture.KindRTCP, Payload: b}
}

func TestRTCPCompound(t *testing.T) {
	e := NewEngine(DefaultConfig())
	e.RTCP(rtcpAt(1*s, srSDES))
	want := Reports{Count: 1, FractionSum: 25, FractionMax: 25, JitterSum: 80, JitterMax: 80, CumLost: 5, ExtHighest: 0x00010064}
	if got := e.Reports(ssrcB); got == nil || *got != want {
		t.Errorf("after the SR, reports on B = %+v\nwant %+v", got, want)
	}
	if got, want := e.Counters(), (Counters{RTCP: 1, RTTSkipped: 1}); got != want {
		t.Errorf("after the SR, counters %+v, want %+v", got, want)
	}

	// RFC 3550 §6.4.1: RTT = A − LSR − DLSR, with A the capture time of the RR and LSR taken
	// as the capture time of the SR it names: 1.520 s − 1.000 s − 0.5 s = 0.020 s.
	e.RTCP(rtcpAt(1520*ms, rrSDES))
	want = Reports{Count: 1, FractionSum: 5.078125, FractionMax: 5.078125, JitterSum: 200, JitterMax: 200,
		CumLost: -1, ExtHighest: 10000, RTT: RTTStats{Count: 1, Sum: 20 * ms, Max: 20 * ms}}
	if got := e.Reports(ssrcA); got == nil || *got != want {
		t.Errorf("after the RR, reports on A = %+v\nwant %+v", got, want)
	}
	if got, want := e.Counters(), (Counters{RTCP: 2, RTTSamples: 1, RTTSkipped: 1}); got != want {
		t.Errorf("after the RR, counters %+v, want %+v", got, want)
	}
	if e.Reports(ssrcC) != nil {
		t.Error("reports on an SSRC nobody reported")
	}
}

// block is an RTCP report block (RFC 3550 §6.4.1).
func block(ssrc uint32, fraction uint8, cumLost uint32, extHighest, jitter, lsr, dlsr uint32) []byte {
	return cat(be32(ssrc), // SSRC_n: source this block is about
		[]byte{fraction, byte(cumLost >> 16), byte(cumLost >> 8), byte(cumLost)}, // fraction lost, cumulative lost (24 bits)
		be32(extHighest), // extended highest sequence number received
		be32(jitter),     // interarrival jitter
		be32(lsr),        // last SR: middle 32 bits of its NTP timestamp
		be32(dlsr))       // delay since last SR, 1/65536 s
}

// sr is an SR from ssrc with the given NTP timestamp and report blocks.
func sr(ssrc uint32, ntp uint64, blocks ...[]byte) []byte {
	words := 6 + 6*len(blocks) // length: (4 + 4 + 20 + 24·n)/4 − 1
	return cat(
		[]byte{0x80 | byte(len(blocks)), 200, byte(words >> 8), byte(words)}, // V=2, RC, PT SR, length
		be32(ssrc),                               // SSRC of sender
		be32(uint32(ntp>>32)), be32(uint32(ntp)), // NTP timestamp, seconds and fraction
		be32(0x1000),   // RTP timestamp
		be32(100),      // sender's packet count
		be32(16000),    // sender's octet count
		cat(blocks...)) // report blocks
}

// rr is an RR from ssrc with the given report blocks.
func rr(ssrc uint32, blocks ...[]byte) []byte {
	words := 1 + 6*len(blocks) // (4 + 4 + 24·n)/4 − 1
	return cat([]byte{0x80 | byte(len(blocks)), 201, byte(words >> 8), byte(words)}, be32(ssrc), cat(blocks...))
}

func be32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ntpMid builds an NTP timestamp whose middle 32 bits are mid.
func ntpMid(mid uint32) uint64 { return uint64(0xe123)<<48 | uint64(mid)<<16 | 0xbeef }

func TestRTT(t *testing.T) {
	const x = 0x456789ab
	half := uint32(0x8000) // 0.5 s in 1/65536 s
	type dgram struct {
		at int64
		b  []byte
	}
	// nineSRs: A sends SRs at 1 s .. 9 s with middle bits 0x00010000·i; the history keeps 8.
	var nineSRs []dgram
	for i := 1; i <= 9; i++ {
		nineSRs = append(nineSRs, dgram{int64(i) * s, sr(ssrcA, ntpMid(uint32(i)<<16))})
	}
	tests := []struct {
		name             string
		in               []dgram
		samples, skipped uint64
		sum, max         int64 // ns, over the reports on A
	}{
		{"20 ms", []dgram{{1 * s, sr(ssrcA, ntpMid(x))}, {1520 * ms, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, x, half))}},
			1, 0, 20 * ms, 20 * ms},
		// DLSR 1.5 s = 0x18000: 3.000 − 1.000 − 1.5 = 0.5 s.
		{"half a second", []dgram{{1 * s, sr(ssrcA, ntpMid(x))}, {3 * s, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, x, 0x18000))}},
			1, 0, 500 * ms, 500 * ms},
		{"LSR 0 skipped", []dgram{{1 * s, sr(ssrcA, ntpMid(x))}, {1520 * ms, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, 0, half))}},
			0, 1, 0, 0},
		{"unmatched LSR skipped", []dgram{{1 * s, sr(ssrcA, ntpMid(x))}, {1520 * ms, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, x+1, half))}},
			0, 1, 0, 0},
		{"no SR from A at all", []dgram{{1520 * ms, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, x, half))}},
			0, 1, 0, 0},
		// C's SR has the right middle bits but the block is about A: the LSR is A's to match.
		{"LSR of another sender's SR", []dgram{{1 * s, sr(ssrcC, ntpMid(x))}, {1520 * ms, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, x, half))}},
			0, 1, 0, 0},
		// 1.400 − 1.000 − 0.5 = −0.1 s: the peer's clock or our match is wrong.
		{"negative skipped", []dgram{{1 * s, sr(ssrcA, ntpMid(x))}, {1400 * ms, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, x, half))}},
			0, 1, 0, 0},
		// 12.0 − 1.0 − 0.5 = 10.5 s: beyond the 10 s bound.
		{"over 10 s skipped", []dgram{{1 * s, sr(ssrcA, ntpMid(x))}, {12 * s, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, x, half))}},
			0, 1, 0, 0},
		// 1.500 − 1.000 − 0.5 = 0: a loopback peer; kept.
		{"zero kept", []dgram{{1 * s, sr(ssrcA, ntpMid(x))}, {1500 * ms, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, x, half))}},
			1, 0, 0, 0},
		// The 2nd of nine SRs (at 2 s) is still among the last 8. DLSR 8 s = 0x80000:
		// 10.030 − 2.000 − 8 = 0.030 s.
		{"answer to an older SR", append(append([]dgram{}, nineSRs...),
			dgram{10030 * ms, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, 2<<16, 0x80000))}),
			1, 0, 30 * ms, 30 * ms},
		// The 1st of nine has been pushed out of the history.
		{"answer to an SR pushed out", append(append([]dgram{}, nineSRs...),
			dgram{9030 * ms, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, 1<<16, 0x80000))}),
			0, 1, 0, 0},
		// Two exchanges: 20 ms, then SR at 5 s and RR at 5.540 s with DLSR 0.5 s: 40 ms.
		// Sum 60 ms, max 40 ms.
		{"two samples", []dgram{
			{1 * s, sr(ssrcA, ntpMid(x))}, {1520 * ms, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, x, half))},
			{5 * s, sr(ssrcA, ntpMid(x+0x10000))}, {5540 * ms, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, x+0x10000, half))}},
			2, 0, 60 * ms, 40 * ms},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(DefaultConfig())
			for _, d := range tc.in {
				e.RTCP(rtcpAt(d.at, d.b))
			}
			c := e.Counters()
			if c.RTTSamples != tc.samples || c.RTTSkipped != tc.skipped {
				t.Errorf("samples %d skipped %d, want %d, %d", c.RTTSamples, c.RTTSkipped, tc.samples, tc.skipped)
			}
			r := e.Reports(ssrcA)
			if r == nil {
				t.Fatal("no reports on A")
			}
			if r.RTT.Count != tc.samples || r.RTT.Sum != tc.sum || r.RTT.Max != tc.max {
				t.Errorf("RTT count %d sum %d max %d, want %d, %d, %d", r.RTT.Count, r.RTT.Sum, r.RTT.Max, tc.samples, tc.sum, tc.max)
			}
		})
	}
}

// TestCumulativeLost reads RFC 3550's signed 24-bit cumulative lost (two's complement).
func TestCumulativeLost(t *testing.T) {
	tests := []struct {
		raw  uint32
		want int32
	}{
		{0x000000, 0},
		{0x000005, 5},
		{0x7fffff, 8388607},  // 2^23 − 1, the largest
		{0x800000, -8388608}, // −2^23, the smallest
		{0xffffff, -1},
		{0xfffffe, -2},
	}
	for _, tc := range tests {
		e := NewEngine(DefaultConfig())
		e.RTCP(rtcpAt(1*s, rr(ssrcB, block(ssrcA, 0, tc.raw, 0, 0, 0, 0))))
		if r := e.Reports(ssrcA); r == nil || r.CumLost != tc.want {
			t.Errorf("cumulative lost %#06x: got %+v, want %d", tc.raw, r, tc.want)
		}
	}
}

// TestReportsAggregate: blocks about one SSRC add up, whoever sends them and in whatever
// packet; blocks about other SSRCs go to their own entry.
func TestReportsAggregate(t *testing.T) {
	e := NewEngine(DefaultConfig())
	// Fraction 64 → 25 %, 13 → 5.078125 %, 0 → 0 %. Jitter 80, 200, 40.
	e.RTCP(rtcpAt(1*s, rr(ssrcB, block(ssrcA, 64, 1, 100, 80, 0, 0))))
	e.RTCP(rtcpAt(2*s, rr(ssrcB, block(ssrcA, 13, 3, 150, 200, 0, 0), block(ssrcC, 128, 9, 7, 10, 0, 0))))
	e.RTCP(rtcpAt(3*s, sr(ssrcB, ntpMid(1), block(ssrcA, 0, 3, 200, 40, 0, 0))))
	// Count 3; FractionSum 25 + 5.078125 + 0 = 30.078125, max 25; JitterSum 80 + 200 + 40 =
	// 320, max 200; cumulative lost and extended highest are the latest block's.
	want := Reports{Count: 3, FractionSum: 30.078125, FractionMax: 25, JitterSum: 320, JitterMax: 200, CumLost: 3, ExtHighest: 200}
	if got := e.Reports(ssrcA); got == nil || *got != want {
		t.Errorf("reports on A = %+v\nwant %+v", got, want)
	}
	// 128/256 = 50 %.
	wantC := Reports{Count: 1, FractionSum: 50, FractionMax: 50, JitterSum: 10, JitterMax: 10, CumLost: 9, ExtHighest: 7}
	if got := e.Reports(ssrcC); got == nil || *got != wantC {
		t.Errorf("reports on C = %+v\nwant %+v", got, wantC)
	}
	// Remove forgets what RTCP said about a stream's SSRC.
	e.Remove(StreamKey{Src: remote, Dst: local, SSRC: ssrcA})
	if e.Reports(ssrcA) != nil {
		t.Error("Remove kept the reports")
	}
}

// TestRTCPMalformed: broken datagrams are counted, never fatal.
func TestRTCPMalformed(t *testing.T) {
	good := sr(ssrcA, ntpMid(0x456789ab), block(ssrcB, 0, 0, 0, 0, 0, 0))
	// An RR whose header claims RC=2 while its length (7: 32 bytes) holds only one block.
	rcOverrun := rr(ssrcB, block(ssrcA, 0, 0, 0, 0, 0, 0))
	rcOverrun[0] = 0x82
	app := []byte{0x80, 204, 0x00, 0x02, 0x22, 0x22, 0x22, 0x22, 'n', 'a', 'm', 'e'} // APP: SSRC, name
	bye := []byte{0x81, 203, 0x00, 0x01, 0x22, 0x22, 0x22, 0x22}                     // BYE, one SSRC
	xr := []byte{0x80, 207, 0x00, 0x01, 0x22, 0x22, 0x22, 0x22}                      // XR with no blocks
	tests := []struct {
		name   string
		b      []byte
		want   Counters
		aboutB uint64 // report blocks counted about B
		srsOfA bool   // A's SR went into the history
	}{
		{name: "empty", b: nil, want: Counters{RTCP: 1}},
		{name: "three bytes", b: []byte{0x80, 0xc8, 0x00}, want: Counters{RTCP: 1, RTCPErrors: 1}},
		{name: "first sub-packet overruns", b: good[:40], want: Counters{RTCP: 1, RTCPErrors: 1}},
		{name: "version 1", b: append([]byte{0x41}, good[1:]...), want: Counters{RTCP: 1, RTCPErrors: 1}},
		{name: "SR too short for its sender info", b: []byte{0x80, 200, 0x00, 0x01, 0x11, 0x11, 0x11, 0x11},
			want: Counters{RTCP: 1, RTCPErrors: 1}},
		// pion/rtcp rejects the RR; the SR before it has been taken already.
		{name: "SR then an RR whose report count overruns it", b: cat(good, rcOverrun),
			want: Counters{RTCP: 1, RTCPErrors: 1, RTTSkipped: 1}, aboutB: 1, srsOfA: true},
		{name: "SR then APP, BYE and XR", b: cat(good, app, bye, xr),
			want: Counters{RTCP: 1, RTTSkipped: 1}, aboutB: 1, srsOfA: true},
		// After a clear first sub-packet, bytes that do not walk to the end of the datagram
		// are SRTCP only if the E flag is set where the SRTCP trailer keeps it (TestSRTCP);
		// here no such byte has its top bit set: a plain compound cut short. The SR before the
		// cut is read, the rest is an error.
		{name: "SR then a sub-packet that overruns the datagram", b: cat(good, rr(ssrcB, block(ssrcA, 0, 0, 0, 0, 0, 0))[:20]),
			want: Counters{RTCP: 1, RTCPErrors: 1, RTTSkipped: 1}, aboutB: 1, srsOfA: true},
		{name: "SR then 3 stray bytes", b: cat(good, []byte{0x81, 0xca, 0x00}),
			want: Counters{RTCP: 1, RTCPErrors: 1, RTTSkipped: 1}, aboutB: 1, srsOfA: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(DefaultConfig())
			e.RTCP(rtcpAt(1*s, tc.b))
			if got := e.Counters(); got != tc.want {
				t.Errorf("counters %+v, want %+v", got, tc.want)
			}
			var n uint64
			if r := e.Reports(ssrcB); r != nil {
				n = r.Count
			}
			if n != tc.aboutB {
				t.Errorf("%d blocks about B, want %d", n, tc.aboutB)
			}
			if _, ok := e.senders[ssrcA]; ok != tc.srsOfA {
				t.Errorf("A's SR in the history: %v, want %v", ok, tc.srsOfA)
			}
		})
	}
}

// TestSRTCP: in SRTCP (RFC 3711 §3.4) only the first header and SSRC are clear; the rest of the
// compound is ciphertext, then a 4-byte E flag and index, then a 10-byte HMAC-SHA1-80 tag. The
// engine counts it and reads nothing from the ciphertext.
func TestSRTCP(t *testing.T) {
	b := cat(
		[]byte{0x81, 0xc8, 0x00, 0x0c}, // clear: V=2, RC=1, PT SR, length 12 (52 bytes)
		be32(ssrcA),                    // clear: SSRC of sender
		[]byte{ // ciphertext of the rest of the SR (44 bytes) and of an SDES (16 bytes)
			0x3b, 0x9e, 0x41, 0xd7, 0x0c, 0x85, 0xf2, 0x6a, 0x19, 0xe3, 0x57, 0xb0,
			0x64, 0x2d, 0xc8, 0x91, 0xfa, 0x03, 0x7e, 0x5c, 0xa6, 0x48, 0x1f, 0xd2,
			0x8b, 0x30, 0xe9, 0x75, 0x0e, 0xc4, 0x5a, 0x97, 0x23, 0xbd, 0x66, 0x01,
			0xf8, 0x4c, 0x92, 0x2e, 0xb5, 0x7a, 0x0d, 0xe1,
			0x5f, 0x16, 0xa8, 0x3d, 0xc2, 0x69, 0x04, 0x9b, 0x71, 0xee, 0x28, 0x86, 0x4b, 0xd0, 0x17, 0x6c,
		},
		[]byte{0x80, 0x00, 0x00, 0x01},                                     // E=1 (encrypted), SRTCP index 1
		[]byte{0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29, 0x3a}, // authentication tag
	)
	e := NewEngine(DefaultConfig())
	e.RTCP(rtcpAt(1*s, b))
	if got, want := e.Counters(), (Counters{RTCP: 1, SRTCP: 1}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	if len(e.reports) != 0 || len(e.senders) != 0 {
		t.Errorf("ciphertext was read: %d report entries, %d senders", len(e.reports), len(e.senders))
	}
}

// TestRemoveKeepsSharedSSRC: when a stream ends, what RTCP said about its SSRC stays while
// another stream of the same SSRC (the same sender towards another remote) is still there.
func TestRemoveKeepsSharedSSRC(t *testing.T) {
	e := NewEngine(DefaultConfig())
	first := rtpPkt(t0, 1, 0, 8, false)
	e.RTP(first)
	second := rtpPkt(t0, 1, 0, 8, false)
	second.Dst = netip.MustParseAddrPort("192.0.2.99:40000")
	e.RTP(second)
	e.RTCP(rtcpAt(t0+1*s, rr(0x11, block(0x5ca1ab1e, 0, 0, 1, 10, 0, 0))))
	e.Remove(StreamKey{Src: first.Src, Dst: first.Dst, SSRC: 0x5ca1ab1e})
	if r := e.Reports(0x5ca1ab1e); r == nil || r.Count != 1 {
		t.Fatalf("reports about the SSRC were dropped with one of its two streams: %+v", r)
	}
	e.Remove(StreamKey{Src: second.Src, Dst: second.Dst, SSRC: 0x5ca1ab1e})
	if r := e.Reports(0x5ca1ab1e); r != nil {
		t.Errorf("reports kept after the last stream of the SSRC: %+v", r)
	}
}
