package metrics

import (
	"net/netip"

	"github.com/tdq-agent/tdq-agent/capture"
)

// The addresses of the test streams: documentation ranges (RFC 5737).
var (
	remote = netip.MustParseAddrPort("198.51.100.20:5004")
	local  = netip.MustParseAddrPort("192.0.2.10:40000")
)

const (
	ms = int64(1e6) // nanoseconds
	s  = int64(1e9)
	// t0 is the arrival of the first packet of a test stream: 2023-11-14T22:13:20Z.
	t0 = 1700000000 * s
)

// rtpBytes is an RTP packet (RFC 3550 §5.1): the 12-byte fixed header, then n bytes of media.
func rtpBytes(seq uint16, ts uint32, pt uint8, marker bool, ssrc uint32, n int) []byte {
	m := byte(0)
	if marker {
		m = 0x80
	}
	b := []byte{
		0x80,                      // V=2, P=0, X=0, CC=0
		m | pt,                    // M, PT
		byte(seq >> 8), byte(seq), // sequence number
		byte(ts >> 24), byte(ts >> 16), byte(ts >> 8), byte(ts), // timestamp
		byte(ssrc >> 24), byte(ssrc >> 16), byte(ssrc >> 8), byte(ssrc), // SSRC
	}
	return append(b, make([]byte, n)...)
}

// rtpPkt is one 20 ms PCMA-sized packet from remote to local.
func rtpPkt(at int64, seq uint16, ts uint32, pt uint8, marker bool) *capture.Packet {
	return &capture.Packet{Time: at, Src: remote, Dst: local, Kind: capture.KindRTP,
		Payload: rtpBytes(seq, ts, pt, marker, 0x5ca1ab1e, 160)}
}
