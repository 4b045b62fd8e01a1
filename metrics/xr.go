package metrics

import "encoding/binary"

// RFC 3611 report block types used for the round trip.
const (
	xrRRTR = 4 // Receiver Reference Time: a receiver's NTP timestamp
	xrDLRR = 5 // DLRR: the answer, LRR (middle 32 bits of that timestamp) and delay since
)

// xr reads an RFC 3611 Extended Report: an RRTR is remembered like an SR; a DLRR sub-block that
// answers one the capture saw gives RTT = A − capture time of the RRTR − DLRR, the receiver's own
// round trip (RFC 3611 §4.5). Other block types are skipped by their length, so an unknown one
// loses nothing. The two blocks are fixed-format words and read directly: pion/rtcp's XR decoder
// allocates a block list per packet. It reports false for a malformed packet.
func (e *Engine) xr(b []byte, at int64) bool {
	if len(b) < 8 {
		return false
	}
	sender := binary.BigEndian.Uint32(b[4:8])
	for b = b[8:]; len(b) > 0; {
		if len(b) < 4 {
			return false
		}
		bt := b[0]
		n := 4 + int(binary.BigEndian.Uint16(b[2:4]))*4
		if n > len(b) {
			return false
		}
		body := b[4:n]
		b = b[n:]
		switch bt {
		case xrRRTR:
			if len(body) != 8 {
				return false
			}
			h := e.rrtrs[sender]
			if h == nil {
				h = &srHistory{}
				e.rrtrs[sender] = h
			}
			h.push(uint32(binary.BigEndian.Uint64(body)>>16), at)
		case xrDLRR:
			if len(body)%12 != 0 {
				return false
			}
			for ; len(body) > 0; body = body[12:] {
				ssrc := binary.BigEndian.Uint32(body[0:4])
				lrr := binary.BigEndian.Uint32(body[4:8])
				dlrr := binary.BigEndian.Uint32(body[8:12])
				e.xrRTT(ssrc, lrr, dlrr, at)
			}
		}
	}
	return true
}

func (e *Engine) xrRTT(ssrc, lrr, dlrr uint32, at int64) {
	h := e.rrtrs[ssrc]
	if lrr == 0 || h == nil {
		e.counters.RTTSkipped++
		return
	}
	sent, ok := h.find(lrr)
	if !ok {
		e.counters.RTTSkipped++
		return
	}
	d := at - sent - int64(dlrr)*1e9/65536
	if d < 0 || d > maxRTT {
		e.counters.RTTSkipped++
		return
	}
	e.counters.RTTSamples++
	e.reportsAbout(ssrc).XRRTT.add(d)
}
