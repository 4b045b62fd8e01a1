package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"unsafe"
)

// realCaptures are the BSD/MIT-licensed captures the agent's oracle tests use; the fuzz targets
// start from their frames. A missing one fails the test: a fuzz target seeded from nothing but
// hand-made frames would pass while exploring far less.
var realCaptures = []string{
	"../agent/testdata/captures/rtpproxy-alice-srtp-g722.pcap",
	"../agent/testdata/captures/rtpproxy-dlt-null-loopback-ipv4-ipv6-gsm.rtp",
	"../agent/testdata/captures/rtpproxy-dtmf-rtpevent.pcap",
	"../agent/testdata/captures/rtpproxy-dups-g729.rtp",
	"../agent/testdata/captures/rtpproxy-g723-1.rtp",
	"../agent/testdata/captures/rtpproxy-h323-rtp-rtcp-sr.pcap",
	"../agent/testdata/captures/rtpproxy-lost-g729.rtp",
	"../agent/testdata/captures/rtpproxy-weird-g729.rtp",
	"../agent/testdata/captures/smu20191-sip-linphone-pjsip-rtcp-sr-rr.pcapng",
}

// seedFrame is one frame of a real capture with its link type and decoded payload.
type seedFrame struct {
	link    LinkType
	frame   []byte
	payload []byte
	kind    Kind
}

// realFrames reads up to perKind frames of each payload kind from every real capture.
func realFrames(tb testing.TB, perKind int) []seedFrame {
	tb.Helper()
	var out []seedFrame
	for _, path := range realCaptures {
		s, err := OpenFile(path)
		if err != nil {
			tb.Fatalf("seed capture: %v", err)
		}
		n := map[Kind]int{}
		var p Packet
		for {
			err := s.Next(&p)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tb.Fatalf("read %s: %v", path, err)
			}
			if n[p.Kind] >= perKind {
				continue
			}
			n[p.Kind]++
			link, frame := s.Frame()
			out = append(out, seedFrame{link, bytes.Clone(frame), bytes.Clone(p.Payload), p.Kind})
		}
		s.Close()
		if len(n) == 0 {
			tb.Fatalf("seed capture %s has no UDP frames", path)
		}
	}
	return out
}

// within reports whether sub lies inside b's bytes (an empty sub may sit one past the end).
func within(sub, b []byte) bool {
	if len(b) == 0 {
		return len(sub) == 0
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return p >= start && p+uintptr(len(sub)) <= start+uintptr(len(b))
}

func FuzzDecode(f *testing.F) {
	for _, s := range realFrames(f, 8) {
		f.Add(uint16(s.link), s.frame)
	}
	for _, s := range steadyFrames() {
		f.Add(uint16(s.link), s.frame)
	}
	f.Add(uint16(LinkRaw), udp6(rtpPayload))
	f.Add(uint16(LinkSLL), cat(sll(0x0800), udp4(rtpPayload)))
	f.Add(uint16(LinkLoop), cat([]byte{0, 0, 0, 24}, udp6(rtpPayload)))
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		var p Packet
		err := Decode(LinkType(link), data, &p)
		_ = UDPChecksum(LinkType(link), data)
		if err != nil {
			return
		}
		if !within(p.Payload, data) {
			t.Fatalf("Payload (%d bytes) is not a sub-slice of the %d-byte frame", len(p.Payload), len(data))
		}
		if !p.Src.IsValid() || !p.Dst.IsValid() || p.Src.Addr().Is4() != p.Dst.Addr().Is4() {
			t.Fatalf("addresses %v -> %v", p.Src, p.Dst)
		}
		var h RTPHeader
		if Classify(p.Payload) == KindRTP && !ParseRTP(p.Payload, &h) {
			t.Fatal("classified RTP but ParseRTP rejects it")
		}
	})
}

func FuzzParseRTP(f *testing.F) {
	for _, s := range realFrames(f, 8) {
		f.Add(s.payload)
	}
	f.Add(rtpPayload)
	f.Add([]byte{0xb2, 0x08, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0xbe, 0xde, 0, 0, 9, 0, 0, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h RTPHeader
		ok := ParseRTP(b, &h)
		kind := Classify(b)
		if !ok {
			if kind == KindRTP {
				t.Fatal("Classify says RTP, ParseRTP rejects it")
			}
			return
		}
		if h.PayloadLen < 0 || h.PayloadLen > len(b)-12-4*int(b[0]&0x0f) {
			t.Fatalf("PayloadLen %d out of range for %d bytes", h.PayloadLen, len(b))
		}
		if h.Seq != binary.BigEndian.Uint16(b[2:4]) || h.Timestamp != binary.BigEndian.Uint32(b[4:8]) ||
			h.SSRC != binary.BigEndian.Uint32(b[8:12]) || h.PayloadType != b[1]&0x7f || h.Marker != (b[1]&0x80 != 0) {
			t.Fatalf("fields %+v do not match % x", h, b[:12])
		}
		if b[1] < 192 || b[1] > 223 {
			if kind != KindRTP {
				t.Fatalf("well-formed RTP outside the RTCP range classified %v", kind)
			}
		}
	})
}
