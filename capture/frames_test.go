package capture

// Frame builders for the tests. Each returns one header with its fields spelled out, so a
// fixture reads as the header diagrams of the RFCs and IEEE 802.3; the tests concatenate them.
// Nothing here calls the code under test.

import "net/netip"

// The addresses and ports every builder uses: documentation ranges (RFC 5737, RFC 3849).
var (
	v4Src = netip.MustParseAddrPort("192.0.2.10:40000")
	v4Dst = netip.MustParseAddrPort("198.51.100.20:5004")
	v6Src = netip.MustParseAddrPort("[2001:db8::10]:40000")
	v6Dst = netip.MustParseAddrPort("[2001:db8::20]:5004")
)

// cat joins header pieces into one frame in a fresh slice.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// eth is an Ethernet II header.
func eth(etherType uint16) []byte {
	return []byte{
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // destination MAC (locally administered)
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source MAC
		byte(etherType >> 8), byte(etherType), // EtherType, or the TPID of a first VLAN tag
	}
}

// vlan is the 4 bytes that follow a TPID (0x8100 802.1Q, 0x88a8 802.1ad): the TCI, then the
// EtherType or TPID of what comes next.
func vlan(vid, next uint16) []byte {
	return []byte{
		byte(vid>>8) & 0x0f, byte(vid), // TCI: PCP 0, DEI 0, 12-bit VLAN ID
		byte(next >> 8), byte(next), // next EtherType / TPID
	}
}

// ipv4 is a 20-byte IPv4 header (RFC 791) from v4Src to v4Dst carrying n bytes of payload.
func ipv4(proto byte, n int, flagsFrag uint16) []byte {
	total := 20 + n
	return []byte{
		0x45,                          // version 4, IHL 5 (20 bytes)
		0x00,                          // DSCP 0, ECN 0
		byte(total >> 8), byte(total), // total length: this header + payload
		0x1c, 0x46, // identification
		byte(flagsFrag >> 8), byte(flagsFrag), // flags (DF 0x4000, MF 0x2000) | offset in 8-byte units
		64,         // TTL
		proto,      // protocol: 1 ICMP, 6 TCP, 17 UDP
		0x00, 0x00, // header checksum: not verified by the decoder
		192, 0, 2, 10, // source 192.0.2.10
		198, 51, 100, 20, // destination 198.51.100.20
	}
}

// ipv6 is a 40-byte IPv6 header (RFC 8200) from v6Src to v6Dst; plen counts every byte after it,
// extension headers included.
func ipv6(next byte, plen int) []byte {
	return []byte{
		0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
		byte(plen >> 8), byte(plen), // payload length
		// next header: 0 hop-by-hop, 17 UDP, 44 fragment, 58 ICMPv6, 60 destination options
		next,
		64,                                                            // hop limit
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, // source 2001:db8::10
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, // destination 2001:db8::20
	}
}

// udp is an 8-byte UDP header (RFC 768) from port 40000 to 5004; length covers header and data.
func udp(length int, checksum uint16) []byte {
	return []byte{
		0x9c, 0x40, // source port 40000
		0x13, 0x8c, // destination port 5004
		byte(length >> 8), byte(length), // length
		byte(checksum >> 8), byte(checksum), // checksum, 0 = not computed (IPv4 only)
	}
}

// rtpPayload is a 16-byte RTP packet (RFC 3550 §5.1): a 12-byte header and 4 bytes of media.
var rtpPayload = []byte{
	0x80,       // V=2, P=0, X=0, CC=0
	0x08,       // M=0, PT=8 (PCMA)
	0x12, 0x34, // sequence number 4660
	0x00, 0x00, 0x0f, 0xa0, // timestamp 4000
	0xde, 0xad, 0xbe, 0xef, // SSRC
	0xd5, 0xd5, 0xd5, 0xd5, // media: PCMA silence
}

// udp4 is an IPv4 UDP datagram (network layer and up) carrying payload, checksum 0.
func udp4(payload []byte) []byte {
	return cat(ipv4(17, 8+len(payload), 0), udp(8+len(payload), 0), payload)
}

// udp6 is an IPv6 UDP datagram (network layer and up) carrying payload, checksum 0.
func udp6(payload []byte) []byte {
	return cat(ipv6(17, 8+len(payload)), udp(8+len(payload), 0), payload)
}
