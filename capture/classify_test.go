package capture

import "testing"

// rtcpHeader is the first word of an RTCP packet (RFC 3550 §6.4): V=2, P=0, count, packet
// type, then the length in 32-bit words minus one.
func rtcpHeader(count, pt byte, words uint16) []byte {
	return []byte{0x80 | count, pt, byte(words >> 8), byte(words)}
}

func TestClassify(t *testing.T) {
	stunBinding := []byte{
		0x00, 0x01, // STUN message type: Binding Request
		0x00, 0x00, // message length 0
		0x21, 0x12, 0xa4, 0x42, // magic cookie (RFC 5389)
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, // transaction ID
	}
	stunNoCookie := append([]byte(nil), stunBinding...)
	stunNoCookie[4] = 0x00 // RFC 3489 STUN had no cookie: first byte 0-3 alone is not enough
	dtls := []byte{
		0x16,       // content type 22: handshake
		0xfe, 0xfd, // version DTLS 1.2
		0x00, 0x00, // epoch
		0, 0, 0, 0, 0, 0, // sequence number
		0x00, 0x10, // length
		0x01, // handshake type: ClientHello
	}
	dtls10 := append([]byte(nil), dtls...)
	dtls10[2] = 0xff // DTLS 1.0
	dtlsAppData := append([]byte(nil), dtls...)
	dtlsAppData[0] = 23 // application data
	notDTLS := append([]byte(nil), dtls...)
	notDTLS[1] = 0x03 // TLS, not DTLS

	// sr is an SR with no report blocks: header, SSRC, 20 bytes of sender info = 28 bytes,
	// length 28/4-1 = 6.
	sr := cat(rtcpHeader(0, 200, 6), make([]byte, 24))
	// rtcpOf is an 8-byte RTCP packet of the given type: header and SSRC, length 1.
	rtcpOf := func(pt byte) []byte { return cat(rtcpHeader(0, pt, 1), []byte{0, 0, 0, 1}) }

	// RTP with marker and PT 72: second byte 0x80|72 = 200, an SR's packet type. The sequence
	// number 1 reads as an RTCP length of 1 word + 1 = 8 bytes, which fits.
	rtpM72 := []byte{0x80, 0x80 | 72, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1}
	rtpPT72 := []byte{0x80, 72, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1}       // same, marker clear
	rtpM96 := []byte{0x80, 0x80 | 96, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1} // 224: above RTCP range
	// An RR header whose length says 3 words + 1 = 16 bytes in an 8-byte datagram.
	rrOverrun := cat(rtcpHeader(0, 201, 3), []byte{0, 0, 0, 1})

	tests := []struct {
		name string
		b    []byte
		want Kind
	}{
		{"empty", nil, KindOther},
		{"STUN with magic cookie", stunBinding, KindSTUN},
		{"STUN binding success 0x0101", append([]byte{0x01, 0x01}, stunBinding[2:]...), KindSTUN},
		{"first byte 0-3 without magic cookie", stunNoCookie, KindOther},
		{"STUN cut below 20 bytes", stunBinding[:19], KindOther},
		{"ZRTP range 16-19", append([]byte{0x10}, make([]byte, 30)...), KindOther},
		{"DTLS 1.2 handshake", dtls, KindDTLS},
		{"DTLS 1.0", dtls10, KindDTLS},
		{"DTLS application data 23", dtlsAppData, KindDTLS},
		{"TLS version not DTLS", notDTLS, KindOther},
		{"DTLS cut below 13 bytes", dtls[:12], KindOther},
		{"TURN channel 64-79", append([]byte{0x40, 0x00, 0x00, 0x10}, make([]byte, 16)...), KindOther},
		{"RTP version 2", rtpPayload, KindRTP},
		{"RTP header only", rtpPayload[:12], KindRTP},
		{"RTP cut at 11 bytes", rtpPayload[:11], KindOther},
		{"RTP-looking 7 bytes", rtpPayload[:7], KindOther},
		{"version 1", append([]byte{0x40 | 0x00}, rtpPayload[1:]...), KindOther},
		{"version 3 first byte 0xc0", append([]byte{0xc0}, rtpPayload[1:]...), KindOther},
		{"RTCP SR 200", sr, KindRTCP},
		{"RTCP RR 201", rtcpOf(201), KindRTCP},
		{"RTCP SDES 202", rtcpOf(202), KindRTCP},
		{"RTCP BYE 203", rtcpOf(203), KindRTCP},
		{"RTCP APP 204", rtcpOf(204), KindRTCP},
		{"RTCP RTPFB 205", rtcpOf(205), KindRTCP},
		{"RTCP PSFB 206", rtcpOf(206), KindRTCP},
		{"RTCP XR 207", rtcpOf(207), KindRTCP},
		{"RFC 5761 lowest 192", rtcpOf(192), KindRTCP},
		{"RFC 5761 highest 223", rtcpOf(223), KindRTCP},
		{"RTP marker PT 72 is in the RTCP range", rtpM72, KindRTCP},
		{"RTP PT 72 without marker", rtpPT72, KindRTP},
		{"RTP marker PT 96 (224)", rtpM96, KindRTP},
		{"RTCP length overruns the datagram", rrOverrun, KindOther},
		{"SRTCP trailer after a fitting first header", cat(sr, make([]byte, 14)), KindRTCP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.b); got != tc.want {
				t.Errorf("Classify(% x) = %v, want %v", tc.b, got, tc.want)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{
		KindOther: "other", KindRTP: "rtp", KindRTCP: "rtcp", KindSTUN: "stun", KindDTLS: "dtls",
		Kind(200): "unknown",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
