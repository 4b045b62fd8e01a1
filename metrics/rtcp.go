package metrics

import (
	"encoding/binary"

	"github.com/pion/rtcp"

	"github.com/tdq-agent/tdq-agent/capture"
)

// srHistorySize is how many SRs per sender are kept for LSR matching. A report may answer an SR
// older than the latest (reports cross in flight, or an SR was lost), so one is not enough.
const srHistorySize = 8

// maxRTT bounds a believable round trip; larger values come from wrong matches or clock bugs.
const maxRTT = 10e9

type srEntry struct {
	mid uint32 // middle 32 bits of the SR's NTP timestamp: what an RR echoes as LSR
	at  int64  // capture time of the SR, ns
}

type srHistory struct {
	ring [srHistorySize]srEntry
	next int
}

func (h *srHistory) push(mid uint32, at int64) {
	h.ring[h.next] = srEntry{mid: mid, at: at}
	h.next = (h.next + 1) % srHistorySize
}

func (h *srHistory) find(mid uint32) (int64, bool) {
	for _, e := range h.ring {
		if e.at != 0 && e.mid == mid {
			return e.at, true
		}
	}
	return 0, false
}

// Reports accumulates the RTCP report blocks seen about one SSRC (RFC 3550 §6.4.1).
type Reports struct {
	Count       uint64
	FractionSum float64 // percent: fraction lost · 100 / 256, summed over reports
	FractionMax float64
	JitterSum   float64 // RTP timestamp units, as reported
	JitterMax   float64
	CumLost     int32    // latest cumulative lost, sign-extended from 24 bits
	ExtHighest  uint32   // latest extended highest sequence number received
	RTT         RTTStats // from this SSRC's sender reports answered by the remote's blocks
	XRRTT       RTTStats // from this SSRC's XR RRTR answered by the remote's XR DLRR (RFC 3611)
	Absurd      uint64   // blocks left out: jitter over 10 s, or loss reported while nothing was sent

	lastPackets uint64 // the reportee stream's packet count at the previous block
}

// RTTStats sums round-trip samples, in ns.
type RTTStats struct {
	Count uint64
	Sum   int64
	Max   int64
}

func (r *RTTStats) add(d int64) {
	r.Count++
	r.Sum += d
	r.Max = max(r.Max, d)
}

// Mean is the mean sample, ns; 0 without samples.
func (r *RTTStats) Mean() int64 {
	if r.Count == 0 {
		return 0
	}
	return r.Sum / int64(r.Count)
}

// Merge adds o's samples to r.
func (r *RTTStats) Merge(o RTTStats) {
	r.Count += o.Count
	r.Sum += o.Sum
	r.Max = max(r.Max, o.Max)
}

func (e *Engine) reportsAbout(ssrc uint32) *Reports {
	r := e.reports[ssrc]
	if r == nil {
		r = &Reports{}
		e.reports[ssrc] = r
	}
	return r
}

// maxReportedJitter is the sanity bound on a reported jitter, in seconds of media clock.
const maxReportedJitter = 10

// absurd filters report blocks no receiver could mean: a jitter of more than 10 s of the
// reportee's clock (90 kHz assumed when it is not known, the most lenient), or a loss reported
// while the reportee sent nothing since the previous block. Broken stacks and SRTCP read as
// plain RTCP produce such values; averaged in, one would swamp a call's figures.
func (e *Engine) absurd(r *Reports, rb *rtcp.ReceptionReport) bool {
	s := e.bySSRC[rb.SSRC]
	hz := 90000.0
	if s != nil && s.clockRate > 0 {
		hz = float64(s.clockRate)
	}
	if float64(rb.Jitter)/hz > maxReportedJitter {
		return true
	}
	if s == nil {
		return false
	}
	idle := s.packets == r.lastPackets && r.Count > 0
	r.lastPackets = s.packets
	return idle && rb.FractionLost > 0
}

// Reports returns what RTCP said about ssrc, or nil.
func (e *Engine) Reports(ssrc uint32) *Reports { return e.reports[ssrc] }

// rtcpScratch holds decode targets reused across packets so that RTCP costs no allocation once
// the report slices have grown to the largest report count seen.
type rtcpScratch struct {
	sr rtcp.SenderReport
	rr rtcp.ReceiverReport
}

// RTCP feeds one RTCP datagram. Each sub-packet of a compound is walked by its own header so a
// malformed or unknown one loses nothing else; SR and RR are decoded with pion/rtcp.
func (e *Engine) RTCP(p *capture.Packet) {
	e.counters.RTCP++
	b := p.Payload
	// SRTCP: the clear part is the first sub-packet's header and SSRC; the rest is ciphertext
	// followed by an index and auth tag, so walking the compound leaves bytes that are not RTCP.
	if isSRTCP(b) {
		e.counters.SRTCP++
		return
	}
	for len(b) >= 4 {
		if b[0]>>6 != 2 {
			e.counters.RTCPErrors++
			return
		}
		n := (int(binary.BigEndian.Uint16(b[2:4])) + 1) * 4
		if n > len(b) {
			e.counters.RTCPErrors++
			return
		}
		sub := b[:n]
		b = b[n:]
		switch sub[1] {
		case 200:
			sr := &e.scratch.sr
			sr.Reports = sr.Reports[:0]
			if sr.Unmarshal(sub) != nil {
				e.counters.RTCPErrors++
				continue
			}
			h := e.senders[sr.SSRC]
			if h == nil {
				h = &srHistory{}
				e.senders[sr.SSRC] = h
			}
			h.push(uint32(sr.NTPTime>>16), p.Time)
			e.blocks(sr.Reports, p.Time)
		case 201:
			rr := &e.scratch.rr
			rr.Reports = rr.Reports[:0]
			if rr.Unmarshal(sub) != nil {
				e.counters.RTCPErrors++
				continue
			}
			e.blocks(rr.Reports, p.Time)
		case 207:
			if !e.xr(sub, p.Time) {
				e.counters.RTCPErrors++
			}
		}
	}
	if len(b) > 0 {
		e.counters.RTCPErrors++ // stray bytes after the last sub-packet
	}
}

// isSRTCP tells an encrypted compound from a plain one. In plain RTCP the sub-packet lengths add
// up to the datagram exactly. In SRTCP only the first header is clear: what follows it is
// ciphertext, then the E flag and index word and an auth tag, so the walk cannot end on the last
// byte. A plain compound cut short (a snap length) cannot end there either; what tells them apart
// is the E flag, set in every encrypted SRTCP packet, at its place before a 10-byte tag
// (HMAC-SHA1-80), a 4-byte tag (HMAC-SHA1-32) or at the end (AES-GCM, RFC 7714). A first
// sub-packet that itself overruns is malformed RTCP, not SRTCP, and is left to the walker.
func isSRTCP(b []byte) bool {
	all := b
	first := true
	for len(b) > 0 {
		if len(b) < 4 {
			return !first && eFlag(all)
		}
		n := (int(binary.BigEndian.Uint16(b[2:4])) + 1) * 4
		if b[0]>>6 != 2 || n > len(b) {
			return !first && eFlag(all)
		}
		b = b[n:]
		first = false
	}
	return false
}

func eFlag(b []byte) bool {
	for _, back := range [...]int{14, 8, 4} {
		if len(b) >= back+8 && b[len(b)-back]&0x80 != 0 {
			return true
		}
	}
	return false
}

func (e *Engine) blocks(blocks []rtcp.ReceptionReport, at int64) {
	for i := range blocks {
		rb := &blocks[i]
		r := e.reportsAbout(rb.SSRC)
		if e.absurd(r, rb) {
			r.Absurd++
			e.counters.AbsurdReports++
			continue
		}
		r.Count++
		frac := float64(rb.FractionLost) * 100 / 256
		r.FractionSum += frac
		r.FractionMax = max(r.FractionMax, frac)
		r.JitterSum += float64(rb.Jitter)
		r.JitterMax = max(r.JitterMax, float64(rb.Jitter))
		r.CumLost = signExtend24(rb.TotalLost)
		r.ExtHighest = rb.LastSequenceNumber
		e.rtt(r, rb, at)
	}
}

// rtt is RFC 3550 §6.4.1 on capture times: RTT = A − (capture time of the SR whose NTP middle
// bits are LSR) − DLSR, with DLSR in units of 1/65536 s.
func (e *Engine) rtt(r *Reports, rb *rtcp.ReceptionReport, at int64) {
	if rb.LastSenderReport == 0 {
		e.counters.RTTSkipped++
		return
	}
	h := e.senders[rb.SSRC]
	if h == nil {
		e.counters.RTTSkipped++
		return
	}
	srAt, ok := h.find(rb.LastSenderReport)
	if !ok {
		e.counters.RTTSkipped++
		return
	}
	d := at - srAt - int64(rb.Delay)*1e9/65536
	if d < 0 || d > maxRTT {
		e.counters.RTTSkipped++
		return
	}
	e.counters.RTTSamples++
	r.RTT.add(d)
}

// signExtend24 reads RFC 3550's signed 24-bit cumulative lost; pion/rtcp returns it unsigned.
func signExtend24(v uint32) int32 {
	return int32(v<<8) >> 8
}

// ReportedSSRCs lists the SSRCs that RTCP reports were about.
func (e *Engine) ReportedSSRCs() []uint32 {
	out := make([]uint32, 0, len(e.reports))
	for ssrc := range e.reports {
		out = append(out, ssrc)
	}
	return out
}
