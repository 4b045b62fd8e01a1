package capture

import "encoding/binary"

// Classify tells RTP, RTCP, STUN and DTLS apart by the first bytes of a UDP payload, with no
// signalling: RFC 7983 first-byte ranges, then RFC 5761 for RTP and RTCP sharing a port.
func Classify(b []byte) Kind {
	if len(b) == 0 {
		return KindOther
	}
	switch first := b[0]; {
	case first <= 3:
		if len(b) >= 20 && binary.BigEndian.Uint32(b[4:8]) == stunMagicCookie {
			return KindSTUN
		}
		return KindOther
	case first >= 20 && first <= 63:
		// DTLS record: content type, then version 0xfeXX (DTLS 1.0 is 0xfeff, 1.2 0xfefd).
		if len(b) >= 13 && b[1] == 0xfe {
			return KindDTLS
		}
		return KindOther
	case first >= 128 && first <= 191:
		if len(b) < 8 {
			return KindOther
		}
		// RFC 5761 §4: with the marker bit, RTP payload types 64-95 would collide with RTCP
		// packet types 192-223, so that whole range is RTCP.
		if b[1] >= 192 && b[1] <= 223 {
			if validRTCPHeader(b) {
				return KindRTCP
			}
			return KindOther
		}
		if validRTPHeader(b) {
			return KindRTP
		}
	}
	return KindOther
}

const stunMagicCookie = 0x2112a442

// validRTCPHeader checks the first sub-packet of a (possibly compound) RTCP packet: its length
// must fit in the datagram. SRTCP adds a trailer, so the datagram may be longer.
func validRTCPHeader(b []byte) bool {
	n := (int(binary.BigEndian.Uint16(b[2:4])) + 1) * 4
	return n <= len(b)
}

func validRTPHeader(b []byte) bool {
	var h RTPHeader
	return ParseRTP(b, &h)
}
