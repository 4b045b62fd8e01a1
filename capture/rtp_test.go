package capture

import "testing"

func TestParseRTP(t *testing.T) {
	fixed := func(b0, b1 byte) []byte {
		return []byte{
			b0,         // V, P, X, CC
			b1,         // M, PT
			0xab, 0xcd, // sequence number 43981
			0x89, 0xab, 0xcd, 0xef, // timestamp 2309737967
			0x01, 0x02, 0x03, 0x04, // SSRC 0x01020304
		}
	}
	csrcs := []byte{
		0x11, 0x11, 0x11, 0x11, // CSRC 1
		0x22, 0x22, 0x22, 0x22, // CSRC 2
	}
	ext := []byte{
		0xbe, 0xde, // profile: RFC 8285 one-byte header extensions
		0x00, 0x02, // length: 2 words follow
		0x10, 0xff, 0x00, 0x00, // element id 1, len 1, value 0xff, padding
		0x00, 0x00, 0x00, 0x00, // padding
	}
	media := []byte{1, 2, 3, 4, 5}

	tests := []struct {
		name string
		b    []byte
		ok   bool
		want RTPHeader
	}{
		{"header only", fixed(0x80, 0x00), true,
			RTPHeader{PayloadType: 0, Seq: 43981, Timestamp: 0x89abcdef, SSRC: 0x01020304, PayloadLen: 0}},
		{"media", cat(fixed(0x80, 0x08), media), true,
			RTPHeader{PayloadType: 8, Seq: 43981, Timestamp: 0x89abcdef, SSRC: 0x01020304, PayloadLen: 5}},
		// 0xe0: marker (0x80) plus payload type 0x60 = 96.
		{"marker and PT 96", cat(fixed(0x80, 0xe0), media), true,
			RTPHeader{Marker: true, PayloadType: 96, Seq: 43981, Timestamp: 0x89abcdef, SSRC: 0x01020304, PayloadLen: 5}},
		{"marker and PT 0", fixed(0x80, 0x80), true,
			RTPHeader{Marker: true, PayloadType: 0, Seq: 43981, Timestamp: 0x89abcdef, SSRC: 0x01020304}},
		{"PT 127 no marker", fixed(0x80, 0x7f), true,
			RTPHeader{PayloadType: 127, Seq: 43981, Timestamp: 0x89abcdef, SSRC: 0x01020304}},
		// CC=2: 12 + 2*4 = 20 bytes of header, 5 of media.
		{"two CSRCs", cat(fixed(0x82, 0x08), csrcs, media), true,
			RTPHeader{PayloadType: 8, Seq: 43981, Timestamp: 0x89abcdef, SSRC: 0x01020304, PayloadLen: 5}},
		// X=1: 12 + 4 + 2*4 = 24 bytes of header, 5 of media.
		{"header extension", cat(fixed(0x90, 0x08), ext, media), true,
			RTPHeader{PayloadType: 8, Seq: 43981, Timestamp: 0x89abcdef, SSRC: 0x01020304, PayloadLen: 5}},
		// CC=2 and X=1: 12 + 8 + 12 = 32 bytes of header, 5 of media.
		{"CSRCs then extension", cat(fixed(0x92, 0x08), csrcs, ext, media), true,
			RTPHeader{PayloadType: 8, Seq: 43981, Timestamp: 0x89abcdef, SSRC: 0x01020304, PayloadLen: 5}},
		// P=1: the last byte (3) counts the padding, itself included: 5 media + 3 padding.
		{"padding", cat(fixed(0xa0, 0x08), media, []byte{0, 0, 3}), true,
			RTPHeader{PayloadType: 8, Seq: 43981, Timestamp: 0x89abcdef, SSRC: 0x01020304, PayloadLen: 5}},
		// Padding right after an extension and CSRCs: 32 + 5 media + 4 padding.
		{"padding with CSRCs and extension", cat(fixed(0xb2, 0x08), csrcs, ext, media, []byte{0, 0, 0, 4}), true,
			RTPHeader{PayloadType: 8, Seq: 43981, Timestamp: 0x89abcdef, SSRC: 0x01020304, PayloadLen: 5}},
		// All 4 bytes after the header are padding: no media, still well formed.
		{"padding only", cat(fixed(0xa0, 0x08), []byte{0, 0, 0, 4}), true,
			RTPHeader{PayloadType: 8, Seq: 43981, Timestamp: 0x89abcdef, SSRC: 0x01020304, PayloadLen: 0}},
		{"padding count 0", cat(fixed(0xa0, 0x08), media, []byte{0}), false, RTPHeader{}},
		// 6 bytes after the header, padding count 7: reaches into the header.
		{"padding count past the header", cat(fixed(0xa0, 0x08), media, []byte{7}), false, RTPHeader{}},
		{"padding bit on a bare header", fixed(0xa0, 0x08), false, RTPHeader{}},
		{"too short: 11 bytes", fixed(0x80, 0x08)[:11], false, RTPHeader{}},
		{"empty", nil, false, RTPHeader{}},
		{"CSRC list cut", cat(fixed(0x83, 0x08), csrcs), false, RTPHeader{}},
		{"extension header cut", cat(fixed(0x90, 0x08), ext[:3]), false, RTPHeader{}},
		{"extension longer than the packet", cat(fixed(0x90, 0x08), ext[:8]), false, RTPHeader{}},
		{"version 1", cat(fixed(0x40, 0x08), media), false, RTPHeader{}},
		{"version 0", cat(fixed(0x00, 0x08), media), false, RTPHeader{}},
		{"version 3", cat(fixed(0xc0, 0x08), media), false, RTPHeader{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h RTPHeader
			ok := ParseRTP(tc.b, &h)
			if ok != tc.ok {
				t.Fatalf("ParseRTP(% x) = %v, want %v", tc.b, ok, tc.ok)
			}
			if ok && h != tc.want {
				t.Errorf("header = %+v\nwant     %+v", h, tc.want)
			}
		})
	}
}
