package capture

import "encoding/binary"

// Checksum is the state of a captured UDP datagram's checksum.
type Checksum uint8

// Checksum states.
const (
	ChecksumUnknown Checksum = iota // not UDP over IP, or cut short by the snap length
	ChecksumAbsent                  // zero: the sender did not compute one (IPv4 only)
	ChecksumGood
	ChecksumBad
)

// UDPChecksum verifies the UDP checksum of a frame. It is not on the per-packet path: the agent
// uses it to tell which end of a flow is the capturing host, whose outgoing datagrams carry an
// unfinished checksum when the NIC offloads checksumming (RFC 768 / RFC 8200 pseudo-headers).
func UDPChecksum(link LinkType, frame []byte) Checksum {
	et, b, err := network(link, frame)
	if err != nil {
		return ChecksumUnknown
	}
	var sum uint32
	var udp []byte
	switch et {
	case etherTypeIPv4:
		if len(b) < 20 {
			return ChecksumUnknown
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if b[9] != ipProtoUDP || ihl < 20 || total > len(b) || total < ihl+8 {
			return ChecksumUnknown
		}
		udp = b[ihl:total]
		sum = add(sum, b[12:20])
	case etherTypeIPv6:
		if len(b) < 48 || b[6] != ipProtoUDP {
			return ChecksumUnknown
		}
		plen := int(binary.BigEndian.Uint16(b[4:6]))
		if 40+plen > len(b) || plen < 8 {
			return ChecksumUnknown
		}
		udp = b[40 : 40+plen]
		sum = add(sum, b[8:40])
	default:
		return ChecksumUnknown
	}
	if binary.BigEndian.Uint16(udp[6:8]) == 0 {
		if et == etherTypeIPv4 {
			return ChecksumAbsent
		}
		return ChecksumBad
	}
	if int(binary.BigEndian.Uint16(udp[4:6])) != len(udp) {
		return ChecksumUnknown
	}
	sum += ipProtoUDP + uint32(len(udp))
	sum = add(sum, udp)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	if sum == 0xffff {
		return ChecksumGood
	}
	return ChecksumBad
}

func add(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}
