package metrics

import (
	"net/netip"
	"testing"

	"github.com/tdq-agent/tdq-agent/capture"
)

// TestReportSanity: blocks no receiver could mean are left out and counted. The reportee sends
// PCMA (8 kHz) as SSRC 0x5ca1ab1e (rtpPkt's stream).
//   - jitter 80001 units = 10.0001 s at 8 kHz > 10 s: absurd; 80000 (exactly 10 s) is kept;
//   - a loss reported while the stream sent nothing since the previous block: absurd; the same
//     loss after new packets is kept.
func TestReportSanity(t *testing.T) {
	const ssrc = 0x5ca1ab1e
	e := NewEngine(DefaultConfig())
	seq := uint16(0)
	send := func(n int) {
		for i := 0; i < n; i++ {
			e.RTP(rtpPkt(t0+int64(seq)*20*ms, seq, uint32(seq)*160, 8, false))
			seq++
		}
	}
	send(10)
	e.RTCP(rtcpAt(t0+1*s, rr(0x11, block(ssrc, 0, 0, 10, 80001, 0, 0)))) // absurd jitter
	e.RTCP(rtcpAt(t0+2*s, rr(0x11, block(ssrc, 0, 0, 10, 80000, 0, 0)))) // kept: 10 s
	e.RTCP(rtcpAt(t0+3*s, rr(0x11, block(ssrc, 64, 0, 10, 0, 0, 0))))    // nothing sent since: absurd
	send(5)
	e.RTCP(rtcpAt(t0+4*s, rr(0x11, block(ssrc, 64, 0, 15, 0, 0, 0)))) // kept: 25 %
	r := e.Reports(ssrc)
	if r.Count != 2 || r.Absurd != 2 || r.JitterMax != 80000 || r.FractionMax != 25 {
		t.Errorf("reports %+v; want 2 kept (jitter max 80000, fraction max 25), 2 absurd", *r)
	}
	if c := e.Counters(); c.AbsurdReports != 2 {
		t.Errorf("AbsurdReports %d, want 2", c.AbsurdReports)
	}
	// About an SSRC the capture never saw, the clock is unknown: 90 kHz, the most lenient, so
	// 900000 units (10 s) passes and 900001 does not.
	e.RTCP(rtcpAt(t0+5*s, rr(0x11, block(0x77, 0, 0, 1, 900000, 0, 0), block(0x77, 0, 0, 1, 900001, 0, 0))))
	if r := e.Reports(0x77); r.Count != 1 || r.Absurd != 1 {
		t.Errorf("unknown reportee: %+v, want 1 kept, 1 absurd", *r)
	}
}

// stunMsg is a STUN message header (RFC 8489 §5): type, length 0, magic cookie, transaction ID.
func stunMsg(at int64, src, dst netip.AddrPort, typ uint16, id byte) *capture.Packet {
	b := []byte{byte(typ >> 8), byte(typ), 0, 0, 0x21, 0x12, 0xa4, 0x42}
	for i := 0; i < 12; i++ {
		b = append(b, id)
	}
	return &capture.Packet{Time: at, Src: src, Dst: dst, Kind: capture.KindSTUN, Payload: b}
}

// TestSTUNRoundTrip: a Binding request from the device at 1.000 s answered on the reversed
// 5-tuple at 1.025 s is a 25 ms round trip of the device's; a response on another 5-tuple, or to
// an unknown transaction, is no sample; a request sent twice gives none (Karn's rule); the
// remote's own checks are kept apart from the device's.
func TestSTUNRoundTrip(t *testing.T) {
	e := NewEngine(DefaultConfig())
	e.STUN(stunMsg(t0+1000*ms, local, remote, 0x0001, 1))
	e.STUN(stunMsg(t0+1025*ms, remote, local, 0x0101, 1))
	e.STUN(stunMsg(t0+1030*ms, remote, local, 0x0101, 1)) // a duplicate response: no second sample
	other := netip.MustParseAddrPort("198.51.100.99:5004")
	e.STUN(stunMsg(t0+2000*ms, local, remote, 0x0001, 2))
	e.STUN(stunMsg(t0+2010*ms, other, local, 0x0101, 2)) // wrong 5-tuple
	e.STUN(stunMsg(t0+3000*ms, local, remote, 0x0001, 3))
	e.STUN(stunMsg(t0+3500*ms, local, remote, 0x0001, 3)) // retransmission
	e.STUN(stunMsg(t0+3520*ms, remote, local, 0x0101, 3))
	e.STUN(stunMsg(t0+4000*ms, remote, local, 0x0001, 4)) // the remote checks the device
	e.STUN(stunMsg(t0+4001*ms, local, remote, 0x0111, 4)) // an error response is an answer too
	if got := e.STUNRTT(local, remote); got != (RTTStats{Count: 1, Sum: 25 * ms, Max: 25 * ms}) {
		t.Errorf("device's round trips %+v, want one of 25 ms", got)
	}
	if got := e.STUNRTT(remote, local); got != (RTTStats{Count: 1, Sum: 1 * ms, Max: 1 * ms}) {
		t.Errorf("remote's round trips %+v, want one of 1 ms", got)
	}
	if c := e.Counters(); c.STUNSamples != 2 || c.STUNAmbiguous != 1 || c.STUN != 10 {
		t.Errorf("counters %+v, want 2 samples, 1 ambiguous, 10 messages", c)
	}
}
