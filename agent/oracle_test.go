package agent

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tdq-agent/tdq-agent/capture"
	"github.com/tdq-agent/tdq-agent/metrics"
)

// oracleStream is one row of `tshark -q -z rtp,streams` (TShark 4.0.17; see the captures'
// MANIFEST for the exact command).
type oracleStream struct {
	key              metrics.StreamKey
	payload          string
	packets          int64
	lost             int64
	minJit           float64 // ms; -1 when tshark had no clock rate for the payload type
	meanJit, maxJit  float64 // ms
	problems         bool
	meanDelta, delta float64
}

var streamRow = regexp.MustCompile(`^\s*\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x([0-9A-Fa-f]+)\s+(.+?)\s+(\d+)\s+(-?\d+)\s+\(-?[\d.]+%\)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s*(X?)\s*$`)

func readOracle(t *testing.T, path string) []oracleStream {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open oracle: %v", err)
	}
	defer f.Close()
	var out []oracleStream
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := streamRow.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		sp, _ := strconv.Atoi(m[2])
		dp, _ := strconv.Atoi(m[4])
		ssrc, _ := strconv.ParseUint(m[5], 16, 32)
		o := oracleStream{
			key: metrics.StreamKey{
				Src:  netip.AddrPortFrom(netip.MustParseAddr(m[1]), uint16(sp)),
				Dst:  netip.AddrPortFrom(netip.MustParseAddr(m[3]), uint16(dp)),
				SSRC: uint32(ssrc),
			},
			payload:  m[6],
			problems: m[15] == "X",
		}
		o.packets, _ = strconv.ParseInt(m[7], 10, 64)
		o.lost, _ = strconv.ParseInt(m[8], 10, 64)
		o.minJit, _ = strconv.ParseFloat(m[12], 64)
		o.meanJit, _ = strconv.ParseFloat(m[13], 64)
		o.maxJit, _ = strconv.ParseFloat(m[14], 64)
		out = append(out, o)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no stream rows parsed", path)
	}
	return out
}

// measure runs a capture through the real decoder and engine, as the agent does.
func measure(t *testing.T, path string) *metrics.Engine {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	e := metrics.NewEngine(metrics.DefaultConfig())
	var p capture.Packet
	for {
		err := src.Next(&p)
		if err == io.EOF {
			return e
		}
		if err != nil {
			t.Fatal(err)
		}
		switch p.Kind {
		case capture.KindRTP:
			e.RTP(&p)
		case capture.KindRTCP:
			e.RTCP(&p)
		case capture.KindSTUN:
			e.STUN(&p)
		}
	}
}

// sharedCaptures is the project's shared capture folder, beside the repository. Captures under
// GPL-family licences are read from there, not copied into testdata.
func sharedCaptures(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "shared", "captures"))
	if err == nil {
		if _, err = os.Stat(filepath.Join(dir, "MANIFEST.md")); err == nil {
			return dir
		}
	}
	t.Skipf("shared captures not found beside the repository (%v): the GPL-family captures are not copied into testdata, so this case needs ../shared/captures", err)
	return ""
}

func within(got, want float64) bool {
	return math.Abs(got-want) <= math.Max(0.01*math.Abs(want), 0.01)
}

// TestOracleStreams checks, for every RTP stream tshark reports in each capture, the packet count
// (ours plus the exact duplicates we set apart), the mean and maximum RFC 3550 jitter within
// max(1 %, 0.01 ms), and the loss where the stream has no sequence anomaly.
func TestOracleStreams(t *testing.T) {
	cases := []struct {
		name   string
		shared bool // GPL-family: read from ../shared/captures
		// why a stream's jitter legitimately differs from tshark's, by SSRC
		jitterExempt  map[uint32]string
		lossExempt    map[uint32]string
		packetsExempt map[uint32]string
		// clock rates the MANIFEST gives for dynamic payload types, by SSRC: tshark prints no
		// jitter for those; the agent must infer this rate, and its jitter is checked against
		// RFC 3550 worked from the per-packet oracle at that rate
		clocks map[string]uint32 // by stream name, as the test prints it
		// streams tshark finds that the agent does not look for, with the reason
		notMedia map[uint32]string
	}{
		{name: "smu20191-sip-linphone-pjsip-rtcp-sr-rr.pcapng"},
		{name: "rtpproxy-alice-srtp-g722.pcap"},
		{name: "rtpproxy-dlt-null-loopback-ipv4-ipv6-gsm.rtp"},
		{name: "rtpproxy-g723-1.rtp"},
		{name: "rtpproxy-h323-rtp-rtcp-sr.pcap"},
		{name: "rtpproxy-lost-g729.rtp"},
		{name: "rtpproxy-weird-g729.rtp"},
		{name: "rtpproxy-dups-g729.rtp", jitterExempt: map[uint32]string{
			0xAE9DD7AF: "one exact duplicate: tshark feeds it to the jitter estimator (a 0-transit sample), DESIGN §4 keeps duplicates out"}},
		{name: "sipp-g711a.pcap", shared: true},
		{name: "ndpi-sip-rtp-rtcp-g711a.pcap", shared: true},
		{name: "ndpi-skinny-sccp-g711u.pcap", shared: true},
		{name: "ms2-pcmu-8k-no-jitter-sll.pcap", shared: true},
		{name: "ms2-audio-80-75-0c60-sll.pcapng", shared: true},
		{name: "ms2-h264-one-nalu-per-frame-ipv6.pcap", shared: true, clocks: map[string]uint32{"[2001:41d0:8:6e48::]:5798->[2a01:e35:8b2a:bb30:2dd3:43a8:398f:f5a7]:9078/C92A7E82": 90000}},
		{name: "ms2-poor-jitter-quality-22.pcapng", shared: true},
		{name: "ms2-rtp-534late-24loss-7000total.pcapng", shared: true, clocks: map[string]uint32{"94.34.27.189:7076->192.168.2.14:7076/A9733981": 48000}},
		{name: "ms2-video-160-0-0a5f30-sll.pcapng", shared: true, clocks: map[string]uint32{"91.121.209.194:25754->192.168.0.226:9078/281A0AEB": 90000}},
		{name: "ndpi-fax-t38-g711.pcap", shared: true,
			jitterExempt: map[uint32]string{
				0x17D90134: "means agree; the maxima differ by 0.09 ms: after 43 s of silence the RTP timestamp restarts at 0 while the sequence goes on, and tshark 4.0 stops measuring there (it compares timestamps with the first packet's), while the agent leaves out the one 43 s step (over 3 s) and goes on measuring"},
			packetsExempt: map[uint32]string{
				0x0EAF0EAF: "tshark decodes the port as T.38 once SDP moves it there; the 27 datagrams after that still carry RTP headers with this SSRC, and the agent, which sees no SDP, counts them"}},
		{name: "ndpi-kakaotalk-voice-sll.pcap", shared: true},
		{name: "ndpi-rtp-mixed-vlan-h263-rtpevent.pcapng", shared: true},
		{name: "ndpi-rtp-vlan-qinq-gtp.pcapng", shared: true, notMedia: map[uint32]string{
			0x40100005: "inside a GTP-U tunnel: mobile-core traffic a room device never carries; the agent does not open GTP-U",
			0x60060002: "inside a GTP-U tunnel (see above)",
			0x205E9160: "inside a GTP-U tunnel (see above)"}},
		{name: "ndpi-webrtc-google-meet-ipv6.pcapng", shared: true, clocks: map[string]uint32{"192.168.12.156:38152->142.250.82.76:3478/78691914": 48000}},
		{name: "ndpi-webrtc-signal.pcapng", shared: true},
		{name: "rtpproxy-dtmf-rtpevent.pcap"},
		{name: "sipp-dtmf-2833-1.pcap", shared: true},
		{name: "lab/clean/clean.pcap", shared: false},
		{name: "lab/delay40/delay40.pcap", shared: false},
		{name: "lab/loss2-in/loss2-in.pcap", shared: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			capPath, oraclePath := filepath.Join("testdata", "captures", tc.name), filepath.Join("testdata", "captures", "oracle", tc.name+".rtp-streams.txt")
			if dir, base := filepath.Split(tc.name); dir != "" {
				capPath = filepath.Join("testdata", tc.name)
				oraclePath = filepath.Join("testdata", dir, base[:len(base)-len(filepath.Ext(base))]+".rtp_streams.txt")
			}
			if tc.shared {
				dir := sharedCaptures(t)
				capPath, oraclePath = filepath.Join(dir, tc.name), filepath.Join(dir, "oracle", tc.name+".rtp-streams.txt")
			}
			want := readOracle(t, oraclePath)
			e := measure(t, capPath)
			for _, o := range want {
				name := fmt.Sprintf("%s->%s/%08X", o.key.Src, o.key.Dst, o.key.SSRC)
				s := e.Stream(o.key)
				if why, ok := tc.notMedia[o.key.SSRC]; ok {
					if s != nil {
						t.Errorf("%s: exempted as %q, but the agent found it: remove the exemption", name, why)
					}
					t.Logf("%s: not compared: %s", name, why)
					continue
				}
				if s == nil {
					t.Errorf("%s: tshark reports %d packets, the agent found no such stream", name, o.packets)
					continue
				}
				got := s.Stats()
				t.Logf("| %s | %s | %d | %d+%d | %d | %d | %.3f / %.3f | %.3f / %.3f |", tc.name, name, o.packets, got.Packets, got.Duplicates, o.lost, got.Lost, o.meanJit, o.maxJit, got.JitterMean*1e3, got.JitterMax*1e3)
				if why, ok := tc.packetsExempt[o.key.SSRC]; ok {
					t.Logf("%s: packets not compared: %s (agent %d, tshark %d)", name, why, got.Packets, o.packets)
				} else if n := int64(got.Packets + got.Duplicates); n != o.packets {
					t.Errorf("%s: packets %d (+%d duplicates), tshark %d", name, got.Packets, got.Duplicates, o.packets)
				}
				if o.minJit < 0 {
					checkDynamicClock(t, name, tc.clocks[name], oraclePath, o, got)
				} else if got.ClockRate > 0 {
					if why, ok := tc.jitterExempt[o.key.SSRC]; ok {
						t.Logf("%s: jitter not compared: %s (agent %.3f/%.3f ms, tshark %.3f/%.3f ms)", name, why, got.JitterMean*1e3, got.JitterMax*1e3, o.meanJit, o.maxJit)
					} else if !within(got.JitterMean*1e3, o.meanJit) || !within(got.JitterMax*1e3, o.maxJit) {
						t.Errorf("%s: jitter mean/max %.4f/%.4f ms, tshark %.3f/%.3f ms", name, got.JitterMean*1e3, got.JitterMax*1e3, o.meanJit, o.maxJit)
					}
				}
				anomaly := got.Duplicates > 0 || got.Restarts > 0 || o.lost < 0
				if why, ok := tc.lossExempt[o.key.SSRC]; ok {
					t.Logf("%s: loss not compared: %s", name, why)
				} else if !anomaly && got.Lost != o.lost {
					t.Errorf("%s: lost %d of %d expected, tshark %d", name, got.Lost, got.Expected, o.lost)
				}
			}
		})
	}
}

// checkDynamicClock covers a stream tshark could not measure (a dynamic payload type with no
// SDP): where the MANIFEST gives the clock, the agent must have inferred exactly it, and its
// jitter must match RFC 3550 worked from the per-packet oracle: the maximum within 1 %; the mean
// within 10 %, because packets that arrived while the clock was being inferred (up to 2 s of a
// bursty stream) are not all measured.
func checkDynamicClock(t *testing.T, name string, want uint32, oraclePath string, o oracleStream, got metrics.StreamStats) {
	t.Helper()
	if want == 0 {
		t.Logf("%s: no reference clock; the agent's is %d Hz (%s)", name, got.ClockRate, got.ClockSource)
		return
	}
	if got.ClockRate != want || got.ClockSource != metrics.ClockInferred {
		t.Errorf("%s: clock %d Hz (%s), want %d Hz inferred", name, got.ClockRate, got.ClockSource, want)
		return
	}
	mean, maxJ, n := csvJitter(t, strings.Replace(oraclePath, ".rtp-streams.txt", ".rtp-packets.csv", 1), o.key, float64(want))
	if float64(got.JitterSamples) < 0.9*float64(n) {
		// A short bursty stream spends much of itself in the inference: its mean is over
		// other packets than the oracle's, only the maximum compares.
		t.Logf("%s: %d of %d packets measured after the inference; mean %.3f ms vs %.3f ms over all", name, got.JitterSamples, n, got.JitterMean*1e3, mean*1e3)
		mean = got.JitterMean
	}
	if math.Abs(got.JitterMean-mean) > 0.10*mean || math.Abs(got.JitterMax-maxJ) > 0.01*maxJ {
		t.Errorf("%s: jitter %.3f/%.3f ms at the inferred %d Hz, RFC 3550 on the oracle's packets %.3f/%.3f ms",
			name, got.JitterMean*1e3, got.JitterMax*1e3, want, mean*1e3, maxJ*1e3)
	}
}
