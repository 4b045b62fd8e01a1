package metrics

import (
	"testing"

	"github.com/tdq-agent/tdq-agent/capture"
)

// xrPkt is an RTCP XR packet (RFC 3611 §2) from sender carrying the given report blocks.
func xrPkt(at int64, sender uint32, blocks ...[]byte) *capture.Packet {
	var body []byte
	for _, b := range blocks {
		body = append(body, b...)
	}
	words := (8+len(body))/4 - 1 // RTCP length: 32-bit words minus one
	b := append([]byte{
		0x80, 207, // V=2, P=0, reserved; PT=XR
		byte(words >> 8), byte(words), // length
	}, be32(sender)...)
	return &capture.Packet{Time: at, Src: local, Dst: remote, Kind: capture.KindRTCP, Payload: append(b, body...)}
}

// rrtr is a Receiver Reference Time block (RFC 3611 §4.4): BT=4, length 2, NTP timestamp.
func rrtr(ntp uint64) []byte {
	return append([]byte{4, 0, 0, 2}, append(be32(uint32(ntp>>32)), be32(uint32(ntp))...)...)
}

// dlrr is a DLRR block (RFC 3611 §4.5) with one sub-block: BT=5, length 3, SSRC, LRR, DLRR.
func dlrr(ssrc, lrr, delay uint32) []byte {
	b := []byte{5, 0, 0, 3}
	b = append(b, be32(ssrc)...)
	b = append(b, be32(lrr)...)
	return append(b, be32(delay)...)
}

// TestXRRoundTrip works RFC 3611 §4.5 by hand: the device (SSRC D) sends an RRTR at 2.000 s with
// NTP 0x0000_1234_5678_0000 (middle 32 bits 0x12345678); the remote answers with a DLRR naming D,
// LRR 0x12345678 and DLRR 0x4000 (0.25 s), captured at 2.290 s: RTT = 2.290 − 2.000 − 0.25 =
// 0.040 s. An unknown block type before it is skipped by its length; LRR 0 and an LRR the capture
// never saw are skipped and counted.
func TestXRRoundTrip(t *testing.T) {
	const device, peer = 0xd0d0d0d0, 0x0e0e0e0e
	e := NewEngine(DefaultConfig())
	e.RTCP(xrPkt(t0+2000*ms, device, rrtr(0x0000_1234_5678_0000)))
	unknown := []byte{42, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef} // BT 42, one word of content
	e.RTCP(xrPkt(t0+2290*ms, peer, unknown, dlrr(device, 0x12345678, 0x4000)))
	r := e.Reports(device)
	if r == nil || r.XRRTT != (RTTStats{Count: 1, Sum: 40 * ms, Max: 40 * ms}) {
		t.Fatalf("XR round trip = %+v, want one sample of 40 ms", r)
	}
	e.RTCP(xrPkt(t0+3000*ms, peer, dlrr(device, 0, 0)))
	e.RTCP(xrPkt(t0+3000*ms, peer, dlrr(device, 0x99999999, 0)))
	if c := e.Counters(); c.RTTSkipped != 2 || c.RTTSamples != 1 || c.RTCPErrors != 0 {
		t.Errorf("counters %+v, want 2 skipped, 1 sample, no error", c)
	}
	// A block whose length overruns the packet is an error, not a panic.
	bad := xrPkt(t0+4000*ms, peer, dlrr(device, 0x12345678, 0))
	bad.Payload[2], bad.Payload[3] = 0, 2 // the RTCP length now ends inside the DLRR block
	bad.Payload = bad.Payload[:12]
	e.RTCP(bad)
	if c := e.Counters(); c.RTCPErrors != 1 {
		t.Errorf("RTCPErrors %d, want 1", c.RTCPErrors)
	}
}
