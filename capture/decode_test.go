package capture

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// ethIPv4UDP is the reference frame, written out byte by byte: Ethernet II, IPv4, UDP and the
// 16-byte RTP packet of rtpPayload.
var ethIPv4UDP = []byte{
	// Ethernet II
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // destination MAC
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source MAC
	0x08, 0x00, // EtherType IPv4
	// IPv4
	0x45,       // version 4, IHL 5 (20 bytes)
	0x00,       // DSCP/ECN
	0x00, 0x2c, // total length 44 = 20 IP + 8 UDP + 16 RTP
	0x1c, 0x46, // identification
	0x40, 0x00, // flags DF, fragment offset 0 (DF alone is not a fragment)
	0x40,       // TTL 64
	0x11,       // protocol 17 UDP
	0x00, 0x00, // header checksum (not verified)
	0xc0, 0x00, 0x02, 0x0a, // source 192.0.2.10
	0xc6, 0x33, 0x64, 0x14, // destination 198.51.100.20
	// UDP
	0x9c, 0x40, // source port 40000
	0x13, 0x8c, // destination port 5004
	0x00, 0x18, // length 24 = 8 + 16
	0x00, 0x00, // checksum none
	// RTP
	0x80, 0x08, 0x12, 0x34, // V=2, PT 8, seq 4660
	0x00, 0x00, 0x0f, 0xa0, // timestamp 4000
	0xde, 0xad, 0xbe, 0xef, // SSRC
	0xd5, 0xd5, 0xd5, 0xd5, // media
}

// sll is a Linux cooked v1 header (LINKTYPE_LINUX_SLL, 16 bytes).
func sll(protocol uint16) []byte {
	return []byte{
		0x00, 0x00, // packet type: 0 sent to us
		0x00, 0x01, // ARPHRD_ETHER
		0x00, 0x06, // link-layer address length
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, // address, padded to 8 bytes
		byte(protocol >> 8), byte(protocol), // protocol (EtherType)
	}
}

// sll2 is a Linux cooked v2 header (LINKTYPE_LINUX_SLL2, 20 bytes): the protocol comes first.
func sll2(protocol uint16) []byte {
	return []byte{
		byte(protocol >> 8), byte(protocol), // protocol (EtherType)
		0x00, 0x00, // reserved
		0x00, 0x00, 0x00, 0x02, // interface index 2
		0x00, 0x01, // ARPHRD_ETHER
		0x04,                                           // packet type: 4 sent by us
		0x06,                                           // link-layer address length
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, // address, padded to 8 bytes
	}
}

func TestDecode(t *testing.T) {
	// Hop-by-hop (RFC 8200 §4.3) then destination options (§4.6) before UDP.
	hopByHop := []byte{
		60,                                 // next header: destination options
		0,                                  // hdr ext len 0: 8 bytes in all
		0x01, 0x04, 0x00, 0x00, 0x00, 0x00, // PadN option, 4 bytes of padding
	}
	destOpts := []byte{
		17,         // next header: UDP
		1,          // hdr ext len 1: (1+1)*8 = 16 bytes in all
		0x01, 0x0c, // PadN option, 12 bytes of padding
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	}
	ext6 := cat(ipv6(0, len(hopByHop)+len(destOpts)+8+len(rtpPayload)), hopByHop, destOpts,
		udp(8+len(rtpPayload), 0), rtpPayload)

	// An Ethernet frame must be 60 bytes before the FCS; a 4-byte payload leaves
	// 60 - 14 - 20 - 8 - 4 = 14 bytes of trailer that the IP total length (32) excludes.
	short := []byte{0xca, 0xfe, 0xba, 0xbe}
	padded := cat(eth(0x0800), udp4(short), make([]byte, 14))

	// A UDP length past the end of the IP packet, with bytes after it (a trailer, or an FCS
	// the capture kept): the IP length bounds the datagram, so those bytes stay out.
	fcs := []byte{0x8e, 0x1a, 0x5b, 0x33}
	udpPastIP4 := cat(eth(0x0800), ipv4(17, 8+4, 0), udp(100, 0), short, make([]byte, 14))
	udpPastIP6 := cat(eth(0x86dd), ipv6(17, 8+4), udp(100, 0), short, fcs)

	// A UDP length beyond what was captured (snap length): the captured bytes are the payload.
	snapCut := cat(ipv4(17, 8+1000, 0), udp(8+1000, 0), rtpPayload)
	// A UDP length shorter than the IP payload: the UDP length wins.
	udpShort := cat(ipv4(17, 8+len(rtpPayload), 0), udp(8+4, 0), rtpPayload)

	tests := []struct {
		name     string
		link     LinkType
		frame    []byte
		src, dst netip.AddrPort
		payload  []byte
	}{
		{"ethernet ipv4 udp", LinkEthernet, ethIPv4UDP, v4Src, v4Dst, rtpPayload},
		{"ethernet ipv6 udp", LinkEthernet, cat(eth(0x86dd), udp6(rtpPayload)), v6Src, v6Dst, rtpPayload},
		{"one 802.1Q tag", LinkEthernet, cat(eth(0x8100), vlan(100, 0x0800), udp4(rtpPayload)), v4Src, v4Dst, rtpPayload},
		{"QinQ 802.1ad then 802.1Q", LinkEthernet,
			cat(eth(0x88a8), vlan(10, 0x8100), vlan(100, 0x86dd), udp6(rtpPayload)), v6Src, v6Dst, rtpPayload},
		{"old QinQ TPID 0x9100", LinkEthernet, cat(eth(0x9100), vlan(10, 0x0800), udp4(rtpPayload)), v4Src, v4Dst, rtpPayload},
		{"linux SLL", LinkSLL, cat(sll(0x0800), udp4(rtpPayload)), v4Src, v4Dst, rtpPayload},
		{"linux SLL2 ipv6", LinkSLL2, cat(sll2(0x86dd), udp6(rtpPayload)), v6Src, v6Dst, rtpPayload},
		{"linux SLL2 ipv4", LinkSLL2, cat(sll2(0x0800), udp4(rtpPayload)), v4Src, v4Dst, rtpPayload},
		// BSD loopback: AF_INET = 2 in the writer's host order.
		{"NULL AF_INET little endian", LinkNull, cat([]byte{0x02, 0x00, 0x00, 0x00}, udp4(rtpPayload)), v4Src, v4Dst, rtpPayload},
		{"NULL AF_INET big endian", LinkNull, cat([]byte{0x00, 0x00, 0x00, 0x02}, udp4(rtpPayload)), v4Src, v4Dst, rtpPayload},
		// AF_INET6 is 30 on Darwin, 28 on FreeBSD, 24 on NetBSD/OpenBSD, 10 on Linux.
		{"NULL AF_INET6 darwin little endian", LinkNull, cat([]byte{30, 0, 0, 0}, udp6(rtpPayload)), v6Src, v6Dst, rtpPayload},
		{"NULL AF_INET6 freebsd big endian", LinkNull, cat([]byte{0, 0, 0, 28}, udp6(rtpPayload)), v6Src, v6Dst, rtpPayload},
		{"NULL AF_INET6 linux", LinkNull, cat([]byte{10, 0, 0, 0}, udp6(rtpPayload)), v6Src, v6Dst, rtpPayload},
		// OpenBSD LOOP: family in network byte order.
		{"LOOP AF_INET", LinkLoop, cat([]byte{0x00, 0x00, 0x00, 0x02}, udp4(rtpPayload)), v4Src, v4Dst, rtpPayload},
		{"LOOP AF_INET6 openbsd", LinkLoop, cat([]byte{0x00, 0x00, 0x00, 24}, udp6(rtpPayload)), v6Src, v6Dst, rtpPayload},
		{"raw ipv4", LinkRaw, udp4(rtpPayload), v4Src, v4Dst, rtpPayload},
		{"raw ipv6", LinkRaw, udp6(rtpPayload), v6Src, v6Dst, rtpPayload},
		{"raw ipv4 BSD value 12", LinkRawAlt, udp4(rtpPayload), v4Src, v4Dst, rtpPayload},
		{"LINKTYPE_IPV4", LinkIPv4, udp4(rtpPayload), v4Src, v4Dst, rtpPayload},
		{"LINKTYPE_IPV6", LinkIPv6, udp6(rtpPayload), v6Src, v6Dst, rtpPayload},
		{"ipv6 hop-by-hop and destination options", LinkRaw, ext6, v6Src, v6Dst, rtpPayload},
		{"ethernet trailer trimmed by IP total length", LinkEthernet, padded, v4Src, v4Dst, short},
		{"ipv4 length bounds a longer udp length", LinkEthernet, udpPastIP4, v4Src, v4Dst, short},
		{"ipv6 payload length bounds a longer udp length", LinkEthernet, udpPastIP6, v6Src, v6Dst, short},
		{"udp length beyond capture keeps captured bytes", LinkRaw, snapCut, v4Src, v4Dst, rtpPayload},
		{"udp length shorter than IP payload", LinkRaw, udpShort, v4Src, v4Dst, rtpPayload[:4]},
		{"empty udp payload", LinkRaw, udp4(nil), v4Src, v4Dst, []byte{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			if err := Decode(tc.link, tc.frame, &p); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if p.Src != tc.src || p.Dst != tc.dst {
				t.Errorf("Src, Dst = %v, %v; want %v, %v", p.Src, p.Dst, tc.src, tc.dst)
			}
			if !bytes.Equal(p.Payload, tc.payload) {
				t.Errorf("Payload = % x\nwant      % x", p.Payload, tc.payload)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	fragHeader := []byte{
		17,         // next header UDP
		0,          // reserved
		0x00, 0x01, // fragment offset 0, M=1
		0x00, 0x00, 0x00, 0x2a, // identification
	}
	hbhCut := []byte{17, 1, 0x01, 0x04, 0, 0, 0, 0} // says 16 bytes, 8 present
	ipv4IHL4 := udp4(rtpPayload)
	ipv4IHL4[0] = 0x44 // IHL 4 words: below the 20-byte minimum
	ipv4Total10 := udp4(rtpPayload)
	ipv4Total10[2], ipv4Total10[3] = 0, 10 // total length 10 < IHL 20
	ipv4IHL15 := cat(ipv4(17, 0, 0))
	ipv4IHL15[0], ipv4IHL15[3] = 0x4f, 60 // IHL 60 bytes, total 60, but only 20 captured
	arp := cat(eth(0x0806), []byte{
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // Ethernet/IPv4, request
		0x02, 0, 0, 0, 0, 1, 192, 0, 2, 10, // sender MAC, IP
		0, 0, 0, 0, 0, 0, 198, 51, 100, 20, // target MAC, IP
	})
	icmp := []byte{8, 0, 0xf7, 0xff, 0, 0, 0, 0} // echo request

	tests := []struct {
		name  string
		link  LinkType
		frame []byte
		want  error
	}{
		{"ethernet cut in the MAC header", LinkEthernet, ethIPv4UDP[:13], ErrTruncated},
		{"802.1Q tag cut", LinkEthernet, cat(eth(0x8100), []byte{0x00, 0x64, 0x08}), ErrTruncated},
		{"SLL cut", LinkSLL, sll(0x0800)[:15], ErrTruncated},
		{"SLL2 cut", LinkSLL2, sll2(0x0800)[:19], ErrTruncated},
		{"NULL cut", LinkNull, []byte{2, 0, 0}, ErrTruncated},
		{"LOOP cut", LinkLoop, []byte{0, 0, 0}, ErrTruncated},
		{"raw empty", LinkRaw, nil, ErrTruncated},
		{"ipv4 header cut at 19 bytes", LinkEthernet, ethIPv4UDP[:14+19], ErrBadIPHeader},
		{"ipv4 IHL below 5", LinkRaw, ipv4IHL4, ErrBadIPHeader},
		{"ipv4 total length below IHL", LinkRaw, ipv4Total10, ErrBadIPHeader},
		{"ipv4 options cut", LinkRaw, ipv4IHL15, ErrBadIPHeader},
		{"ipv6 behind ipv4 link type", LinkIPv4, udp6(rtpPayload), ErrBadIPHeader},
		{"ipv6 header cut at 39 bytes", LinkRaw, udp6(rtpPayload)[:39], ErrBadIPHeader},
		{"ipv6 extension header cut", LinkRaw, cat(ipv6(0, 8), hbhCut), ErrTruncated},
		{"ipv6 extension header under 8 bytes", LinkRaw, cat(ipv6(0, 4), hbhCut[:4]), ErrTruncated},
		{"udp header cut at 7 bytes", LinkEthernet, ethIPv4UDP[:14+20+7], ErrTruncated},
		{"udp length below 8", LinkRaw, cat(ipv4(17, 8, 0), udp(7, 0)), ErrBadUDP},
		{"ipv4 fragment MF set", LinkRaw, cat(ipv4(17, 8+16, 0x2000), udp(8+16, 0), rtpPayload), ErrFragment},
		{"ipv4 fragment offset 185 (1480 bytes)", LinkRaw, cat(ipv4(17, 16, 0x00b9), rtpPayload), ErrFragment},
		{"ipv4 last fragment DF clear offset 1", LinkRaw, cat(ipv4(17, 16, 0x0001), rtpPayload), ErrFragment},
		{"ipv6 fragment header", LinkRaw, cat(ipv6(44, 8+8+16), fragHeader, udp(8+16, 0), rtpPayload), ErrFragment},
		{"icmp", LinkRaw, cat(ipv4(1, len(icmp), 0), icmp), ErrNotUDP},
		{"tcp", LinkEthernet, cat(eth(0x0800), ipv4(6, 20, 0), make([]byte, 20)), ErrNotUDP},
		{"icmpv6", LinkRaw, cat(ipv6(58, len(icmp)), icmp), ErrNotUDP},
		{"arp", LinkEthernet, arp, ErrNotIP},
		{"NULL unknown family", LinkNull, cat([]byte{7, 0, 0, 0}, udp4(rtpPayload)), ErrNotIP},
		{"raw version 5", LinkRaw, []byte{0x50, 0, 0, 0}, ErrNotIP},
		{"802.11 link type", LinkType(105), ethIPv4UDP, ErrLinkType},
		{"unknown link type 0xffff", LinkType(0xffff), ethIPv4UDP, ErrLinkType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			err := Decode(tc.link, tc.frame, &p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDecodeKeepsNoReference checks that Decode copies addresses into values: changing the frame
// afterwards changes the payload (it aliases the frame) but not Src or Dst.
func TestDecodeKeepsNoReference(t *testing.T) {
	frame := bytes.Clone(ethIPv4UDP)
	var p Packet
	if err := Decode(LinkEthernet, frame, &p); err != nil {
		t.Fatal(err)
	}
	for i := range frame[:14+20+8] {
		frame[i] = 0xff
	}
	if p.Src != v4Src || p.Dst != v4Dst {
		t.Errorf("after overwriting the frame: Src, Dst = %v, %v", p.Src, p.Dst)
	}
	frame[14+20+8] = 0x00
	if p.Payload[0] != 0x00 {
		t.Errorf("Payload does not alias the frame")
	}
}
