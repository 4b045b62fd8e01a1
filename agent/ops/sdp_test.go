package ops

import (
	"maps"
	"strings"
	"testing"
)

// offer is a WebRTC-style audio offer, CRLF line ends as RFC 8866 writes them.
const offer = "v=0\r\n" +
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"m=audio 50000 UDP/TLS/RTP/SAVPF 111 0 101\r\n" +
	"c=IN IP4 192.0.2.10\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" + // dynamic: kept
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" + // static: RFC 3551 fixes it, ignored
	"a=rtpmap:101 telephone-event/8000\r\n" // dynamic: kept

func TestClockRates(t *testing.T) {
	tests := []struct {
		name, sdp string
		want      map[uint8]uint32
		err       string
	}{
		{"opus, dtmf, static ignored", offer, map[uint8]uint32{111: 48000, 101: 8000}, ""},
		{"LF line ends", strings.ReplaceAll(offer, "\r\n", "\n"), map[uint8]uint32{111: 48000, 101: 8000}, ""},
		{"video", "m=video 50002 RTP/AVP 96\na=rtpmap:96 VP8/90000\n", map[uint8]uint32{96: 90000}, ""},
		{"no rtpmap", "v=0\nm=audio 5000 RTP/AVP 0\n", nil, ""},
		{"same PT two rates: left out", "a=rtpmap:96 opus/48000/2\na=rtpmap:96 VP8/90000\na=rtpmap:97 G7221/16000\n", map[uint8]uint32{97: 16000}, ""},
		{"same PT same rate", "a=rtpmap:96 opus/48000/2\na=rtpmap:96 opus/48000/2\n", map[uint8]uint32{96: 48000}, ""},
		{"no rate", "v=0\na=rtpmap:111 opus\n", nil, `sdp line 2 "a=rtpmap:111 opus": no clock rate`},
		{"bad rate", "a=rtpmap:111 opus/fast\n", nil, `clock rate "fast" is not a positive integer`},
		{"zero rate", "a=rtpmap:111 opus/0\n", nil, `clock rate "0" is not a positive integer`},
		{"PT out of range", "a=rtpmap:128 opus/48000\n", nil, `payload type "128" is not 0 to 127`},
		{"no encoding", "a=rtpmap:111\n", nil, "no encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := clockRates(tt.sdp)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("clockRates() error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("clockRates() = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzClockRates(f *testing.F) {
	f.Add(offer)
	f.Add("a=rtpmap:96 VP8/90000\n")
	f.Fuzz(func(t *testing.T, sdp string) {
		rates, err := clockRates(sdp)
		if err != nil {
			return
		}
		for pt, r := range rates {
			if pt < firstDynamicPT || pt > lastDynamicPT || r == 0 {
				t.Fatalf("rate %d for PT %d", r, pt)
			}
		}
	})
}
