package capture

import "encoding/binary"

// RTPHeader holds the fixed RTP header fields (RFC 3550 §5.1) that the metrics need, as values.
type RTPHeader struct {
	Marker      bool
	PayloadType uint8
	Seq         uint16
	Timestamp   uint32
	SSRC        uint32
	PayloadLen  int // bytes after the header, extension and CSRCs, less padding
}

// ParseRTP fills h from b and reports whether b is a well-formed RTP version 2 packet.
func ParseRTP(b []byte, h *RTPHeader) bool {
	if len(b) < 12 || b[0]>>6 != 2 {
		return false
	}
	n := 12 + int(b[0]&0x0f)*4
	if len(b) < n {
		return false
	}
	if b[0]&0x10 != 0 { // header extension: 4-byte header then length words
		if len(b) < n+4 {
			return false
		}
		n += 4 + int(binary.BigEndian.Uint16(b[n+2:n+4]))*4
		if len(b) < n {
			return false
		}
	}
	end := len(b)
	if b[0]&0x20 != 0 { // padding: the last byte counts the padding bytes, itself included
		pad := int(b[len(b)-1])
		if pad == 0 || end-pad < n {
			return false
		}
		end -= pad
	}
	h.Marker = b[1]&0x80 != 0
	h.PayloadType = b[1] & 0x7f
	h.Seq = binary.BigEndian.Uint16(b[2:4])
	h.Timestamp = binary.BigEndian.Uint32(b[4:8])
	h.SSRC = binary.BigEndian.Uint32(b[8:12])
	h.PayloadLen = end - n
	return true
}
