package capture

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// LinkType is the pcap link-layer header type (the LINKTYPE_ values of tcpdump.org).
type LinkType uint16

// Link types the decoder understands.
const (
	LinkNull     LinkType = 0   // BSD loopback: 4-byte address family in host byte order
	LinkEthernet LinkType = 1   // Ethernet II, with any number of 802.1Q/802.1ad tags
	LinkRawAlt   LinkType = 12  // raw IP on some BSDs (DLT_RAW's value there)
	LinkRaw      LinkType = 101 // raw IPv4 or IPv6, told apart by the version nibble
	LinkLoop     LinkType = 108 // OpenBSD loopback: address family in network byte order
	LinkSLL      LinkType = 113 // Linux cooked capture v1 (tcpdump -i any before libpcap 1.10)
	LinkIPv4     LinkType = 228
	LinkIPv6     LinkType = 229
	LinkSLL2     LinkType = 276 // Linux cooked capture v2 (tcpdump -i any today)
)

// Decode errors. They are sentinel values so counting them allocates nothing.
var (
	ErrTruncated   = errors.New("truncated header")
	ErrLinkType    = errors.New("unsupported link type")
	ErrNotIP       = errors.New("not an IP packet")
	ErrNotUDP      = errors.New("not a UDP datagram")
	ErrFragment    = errors.New("IP fragment")
	ErrBadIPHeader = errors.New("malformed IP header")
	ErrBadUDP      = errors.New("malformed UDP header")
)

const (
	etherTypeIPv4  = 0x0800
	etherTypeIPv6  = 0x86dd
	etherTypeVLAN  = 0x8100
	etherTypeQinQ  = 0x88a8
	etherTypeQinQ2 = 0x9100
	ipProtoUDP     = 17
)

// Decode parses one frame of the given link type down to its UDP payload and fills p (all but
// Time and Kind). It keeps no reference to data beyond p.Payload and allocates nothing.
func Decode(link LinkType, data []byte, p *Packet) error {
	etherType, data, err := network(link, data)
	if err != nil {
		return err
	}
	switch etherType {
	case etherTypeIPv4:
		return decodeIPv4(data, p)
	case etherTypeIPv6:
		return decodeIPv6(data, p)
	}
	return ErrNotIP
}

// network strips the link-layer header and returns the network protocol (as an EtherType) and
// what follows it.
func network(link LinkType, data []byte) (uint16, []byte, error) {
	var etherType uint16
	switch link {
	case LinkEthernet:
		if len(data) < 14 {
			return 0, nil, ErrTruncated
		}
		etherType = binary.BigEndian.Uint16(data[12:14])
		data = data[14:]
		for etherType == etherTypeVLAN || etherType == etherTypeQinQ || etherType == etherTypeQinQ2 {
			if len(data) < 4 {
				return 0, nil, ErrTruncated
			}
			etherType = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		}
	case LinkSLL:
		if len(data) < 16 {
			return 0, nil, ErrTruncated
		}
		etherType = binary.BigEndian.Uint16(data[14:16])
		data = data[16:]
	case LinkSLL2:
		if len(data) < 20 {
			return 0, nil, ErrTruncated
		}
		etherType = binary.BigEndian.Uint16(data[0:2])
		data = data[20:]
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return 0, nil, ErrTruncated
		}
		family := binary.BigEndian.Uint32(data[0:4])
		if link == LinkNull && family > 0xffff {
			// The writer's host order was little endian.
			family = binary.LittleEndian.Uint32(data[0:4])
		}
		data = data[4:]
		switch family {
		case 2:
			etherType = etherTypeIPv4
		case 10, 24, 28, 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			etherType = etherTypeIPv6
		default:
			return 0, nil, ErrNotIP
		}
	case LinkRaw, LinkRawAlt:
		if len(data) < 1 {
			return 0, nil, ErrTruncated
		}
		switch data[0] >> 4 {
		case 4:
			etherType = etherTypeIPv4
		case 6:
			etherType = etherTypeIPv6
		default:
			return 0, nil, ErrNotIP
		}
	case LinkIPv4:
		etherType = etherTypeIPv4
	case LinkIPv6:
		etherType = etherTypeIPv6
	default:
		return 0, nil, ErrLinkType
	}
	return etherType, data, nil
}

func decodeIPv4(b []byte, p *Packet) error {
	if len(b) < 20 || b[0]>>4 != 4 {
		return ErrBadIPHeader
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || total < ihl || len(b) < ihl {
		return ErrBadIPHeader
	}
	if total < len(b) {
		b = b[:total] // drop Ethernet trailer padding
	}
	if b[9] != ipProtoUDP {
		return ErrNotUDP
	}
	if frag := binary.BigEndian.Uint16(b[6:8]); frag&0x3fff != 0 {
		// More-fragments set or a non-zero offset: the UDP header is split or absent.
		return ErrFragment
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	return decodeUDP(b[ihl:], src, dst, p)
}

func decodeIPv6(b []byte, p *Packet) error {
	if len(b) < 40 || b[0]>>4 != 6 {
		return ErrBadIPHeader
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	next := b[6]
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	b = b[40:]
	if plen < len(b) {
		b = b[:plen]
	}
	// Walk the extension headers that can precede UDP.
	for {
		switch next {
		case ipProtoUDP:
			return decodeUDP(b, src, dst, p)
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 {
				return ErrTruncated
			}
			n := (int(b[1]) + 1) * 8
			if len(b) < n {
				return ErrTruncated
			}
			next = b[0]
			b = b[n:]
		case 44:
			return ErrFragment
		default:
			return ErrNotUDP
		}
	}
}

func decodeUDP(b []byte, src, dst netip.Addr, p *Packet) error {
	if len(b) < 8 {
		return ErrTruncated
	}
	ulen := int(binary.BigEndian.Uint16(b[4:6]))
	if ulen < 8 {
		return ErrBadUDP
	}
	if ulen < len(b) {
		b = b[:ulen]
	}
	// A UDP length beyond the captured bytes means the snap length cut the datagram: keep what
	// was captured, the RTP/RTCP headers are at its start.
	p.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(b[0:2]))
	p.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:4]))
	p.Payload = b[8:]
	return nil
}
