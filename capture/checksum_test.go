package capture

import (
	"encoding/binary"
	"testing"
)

// internetChecksum is RFC 1071 §4.1's reference loop, written here apart from the package's own
// summing so that a mistake in one does not hide in the other.
func internetChecksum(data []byte) uint16 {
	var sum uint32
	i := 0
	for ; i+1 < len(data); i += 2 {
		sum += uint32(data[i])<<8 | uint32(data[i+1])
	}
	if i < len(data) {
		sum += uint32(data[i]) << 8 // odd byte, padded with a zero on the right
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// withChecksum fills the UDP checksum of a datagram (network layer and up, no IP options or
// extension headers) from the RFC 768 / RFC 8200 §8.1 pseudo-header.
func withChecksum(ip []byte, v6 bool) []byte {
	var pseudo, udpPart []byte
	if v6 {
		udpPart = ip[40:]
		pseudo = cat(ip[8:40], // source and destination addresses
			[]byte{0, 0, byte(len(udpPart) >> 8), byte(len(udpPart))}, // upper-layer length
			[]byte{0, 0, 0, 17}) // zeros, next header UDP
	} else {
		udpPart = ip[20:]
		pseudo = cat(ip[12:20], // source and destination addresses
			[]byte{0, 17}, // zero, protocol UDP
			[]byte{byte(len(udpPart) >> 8), byte(len(udpPart))}) // UDP length
	}
	udpPart[6], udpPart[7] = 0, 0
	c := internetChecksum(cat(pseudo, udpPart))
	if c == 0 {
		c = 0xffff // RFC 768: a computed zero is sent as all ones
	}
	binary.BigEndian.PutUint16(udpPart[6:8], c)
	return ip
}

// TestUDPChecksumByHand works one checksum out on paper (RFC 1071: 16-bit one's-complement sum
// of pseudo-header and datagram, carries folded, then complemented).
func TestUDPChecksumByHand(t *testing.T) {
	frame := []byte{
		// IPv4
		0x45, 0x00, 0x00, 0x20, // version 4, IHL 5, DSCP 0, total length 32
		0x00, 0x00, 0x00, 0x00, // identification, flags, offset
		0x40, 0x11, 0x00, 0x00, // TTL 64, protocol UDP, header checksum (unchecked)
		0xc0, 0x00, 0x02, 0x01, // source 192.0.2.1
		0xc0, 0x00, 0x02, 0x02, // destination 192.0.2.2
		// UDP
		0x13, 0x8c, // source port 5004
		0x13, 0x8e, // destination port 5006
		0x00, 0x0c, // length 12
		0xd4, 0xb6, // checksum, worked out below
		0x80, 0x00, 0x00, 0x01, // payload
	}
	// Pseudo-header: c000 + 0201 + c000 + 0202 (addresses) + 0011 (protocol) + 000c (length)
	// UDP:           138c + 138e + 000c + 0000 (checksum as zero) + 8000 + 0001
	// c000+0201 = c201; +c000 = 18201; +0202 = 18403; +0011 = 18414; +000c = 18420;
	// +138c = 197ac; +138e = 1ab3a; +000c = 1ab46; +8000 = 22b46; +0001 = 22b47.
	// Fold: 2b47 + 2 = 2b49. Complement: ffff - 2b49 = d4b6.
	if got := UDPChecksum(LinkRaw, frame); got != ChecksumGood {
		t.Errorf("hand-worked frame: %v, want good", got)
	}
	if got := internetChecksum(cat([]byte{0xc0, 0, 2, 1, 0xc0, 0, 2, 2, 0, 17, 0, 12}, frame[20:])); got != 0 {
		t.Errorf("the test's own RFC 1071 sum over a correct datagram = %#04x, want 0", got)
	}
	frame[27] ^= 0x01 // d4b6 -> d4b7
	if got := UDPChecksum(LinkRaw, frame); got != ChecksumBad {
		t.Errorf("checksum off by one: %v, want bad", got)
	}
}

func TestUDPChecksum(t *testing.T) {
	odd := []byte{0x80, 0x08, 0x00, 0x01, 0, 0, 0, 0xa0, 1, 2, 3, 4, 0x55} // 13 bytes
	good4 := withChecksum(udp4(rtpPayload), false)
	good4odd := withChecksum(udp4(odd), false)
	good6 := withChecksum(udp6(rtpPayload), true)
	good6odd := withChecksum(udp6(odd), true)

	corrupt := func(b []byte, i int) []byte {
		c := cat(b)
		c[i] ^= 0x40
		return c
	}
	// A payload whose sum makes the checksum come out as zero: fill two bytes so that the
	// one's-complement sum of everything is ffff, then RFC 768 sends ffff instead of 0000.
	zeroSum := udp4([]byte{0x80, 0x08, 0, 0})
	s := ^internetChecksum(cat(zeroSum[12:20], []byte{0, 17, 0, 12}, zeroSum[20:])) // sum with filler 0
	binary.BigEndian.PutUint16(zeroSum[30:32], 0xffff-s)
	zeroSum = withChecksum(zeroSum, false)

	v4 := func(b []byte) []byte { return cat(eth(0x0800), b) }
	v6 := func(b []byte) []byte { return cat(eth(0x86dd), b) }
	tests := []struct {
		name  string
		link  LinkType
		frame []byte
		want  Checksum
	}{
		{"ipv4 good", LinkEthernet, v4(good4), ChecksumGood},
		{"ipv4 good odd length", LinkEthernet, v4(good4odd), ChecksumGood},
		{"ipv4 payload corrupted", LinkEthernet, v4(corrupt(good4, 30)), ChecksumBad},
		{"ipv4 checksum corrupted", LinkEthernet, v4(corrupt(good4, 26)), ChecksumBad},
		{"ipv4 address corrupted", LinkEthernet, v4(corrupt(good4, 15)), ChecksumBad},
		{"ipv4 zero checksum", LinkEthernet, v4(udp4(rtpPayload)), ChecksumAbsent},
		{"ipv4 computed zero sent as ffff", LinkRaw, zeroSum, ChecksumGood},
		{"ipv4 with ethernet trailer", LinkEthernet, cat(v4(good4), make([]byte, 10)), ChecksumGood},
		{"ipv4 behind a VLAN tag", LinkEthernet, cat(eth(0x8100), vlan(7, 0x0800), good4), ChecksumGood},
		{"ipv6 good", LinkEthernet, v6(good6), ChecksumGood},
		{"ipv6 good odd length", LinkEthernet, v6(good6odd), ChecksumGood},
		{"ipv6 payload corrupted", LinkEthernet, v6(corrupt(good6, 50)), ChecksumBad},
		{"ipv6 address corrupted", LinkEthernet, v6(corrupt(good6, 39)), ChecksumBad},
		{"ipv6 zero checksum is invalid", LinkEthernet, v6(udp6(rtpPayload)), ChecksumBad},
		{"ipv4 cut by snap length", LinkEthernet, v4(good4)[:14+20+8+4], ChecksumUnknown},
		{"ipv6 cut by snap length", LinkEthernet, v6(good6)[:14+40+8+4], ChecksumUnknown},
		{"not UDP", LinkRaw, cat(ipv4(1, 8, 0), make([]byte, 8)), ChecksumUnknown},
		{"not IP", LinkEthernet, cat(eth(0x0806), make([]byte, 28)), ChecksumUnknown},
		{"unknown link type", LinkType(105), good4, ChecksumUnknown},
		// IP says 8+16 bytes of UDP, the UDP header says 20: neither can be trusted.
		{"udp length disagrees with ip", LinkRaw, cat(ipv4(17, 8+16, 0), udp(20, 0x1234), rtpPayload), ChecksumUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := UDPChecksum(tc.link, tc.frame); got != tc.want {
				t.Errorf("UDPChecksum = %v, want %v", got, tc.want)
			}
		})
	}
}
