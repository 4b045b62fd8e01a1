package agent

import (
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tdq-agent/tdq-agent/metrics"
)

// TestSTUNRoundTrips compares the round trips the agent takes from STUN Binding transactions
// with tshark's own request/response matching (stun.time), per requester and responder. The
// oracle files are `tshark -r FILE -Y "stun.time || stun.type == 0x0001" -T fields ...`
// (testdata/README.md). Only Binding responses (0x0101, 0x0111) carried directly in UDP count:
// tshark also times TURN transactions and STUN quoted inside ICMP errors. Transactions whose
// request was sent more than once are left out on both sides: tshark times them from the first
// copy, the agent takes no sample (Karn's rule), and the test checks it took none.
func TestSTUNRoundTrips(t *testing.T) {
	for _, name := range []string{"ndpi-webrtc-google-meet-ipv6.pcapng", "ndpi-webrtc-signal.pcapng"} {
		t.Run(name, func(t *testing.T) {
			dir := sharedCaptures(t)
			want, resent := readSTUNOracle(t, filepath.Join("testdata", "stun", name+".stun.csv"))
			e := measure(t, filepath.Join(dir, name))
			if len(want) == 0 {
				t.Fatal("oracle has no Binding round trip")
			}
			var total uint64
			for k, w := range want {
				got := e.STUNRTT(k[0], k[1])
				total += got.Count
				t.Logf("%s -> %s: %d samples, mean %.3f ms, max %.3f ms (tshark %d, %.3f, %.3f)", k[0], k[1],
					got.Count, float64(got.Mean())/1e6, float64(got.Max)/1e6, w.Count, float64(w.Mean())/1e6, float64(w.Max)/1e6)
				if got.Count != w.Count || math.Abs(float64(got.Sum-w.Sum)) > float64(w.Count)*1e3 || math.Abs(float64(got.Max-w.Max)) > 1e3 {
					t.Errorf("%s -> %s: %+v, tshark %+v (within 1 µs a sample)", k[0], k[1], got, w)
				}
			}
			if c := e.Counters(); c.STUNSamples != total || c.STUNAmbiguous != resent {
				t.Errorf("the agent took %d samples and left out %d retransmitted transactions; tshark's pairs hold %d and %d",
					c.STUNSamples, c.STUNAmbiguous, total, resent)
			}
		})
	}
}

// readSTUNOracle returns tshark's Binding round trips by (requester, responder), without the
// transactions whose request was retransmitted, and how many of those were answered.
func readSTUNOracle(t *testing.T, path string) (map[[2]netip.AddrPort]metrics.RTTStats, uint64) {
	t.Helper()
	rows, col := readCSV(t, path)
	direct := func(r []string) bool {
		return strings.HasSuffix(r[col["frame.protocols"]], ":udp:stun") && !strings.Contains(r[col["frame.protocols"]], "icmp")
	}
	requests := map[string]int{} // copies of each Binding request, by transaction ID
	for _, r := range rows {
		if r[col["stun.type"]] == "0x0001" && direct(r) {
			requests[r[col["stun.id"]]]++
		}
	}
	out := map[[2]netip.AddrPort]metrics.RTTStats{}
	answered := map[string]bool{} // retransmitted transactions that got a response
	for _, r := range rows {
		typ := r[col["stun.type"]]
		if (typ != "0x0101" && typ != "0x0111") || !direct(r) {
			continue
		}
		if requests[r[col["stun.id"]]] > 1 {
			answered[r[col["stun.id"]]] = true
			continue
		}
		src, dst := r[col["ip.src"]], r[col["ip.dst"]]
		if src == "" {
			src, dst = r[col["ipv6.src"]], r[col["ipv6.dst"]]
		}
		sp, _ := strconv.Atoi(r[col["udp.srcport"]])
		dp, _ := strconv.Atoi(r[col["udp.dstport"]])
		// The response goes from the responder to the requester.
		responder := netip.AddrPortFrom(netip.MustParseAddr(src), uint16(sp))
		requester := netip.AddrPortFrom(netip.MustParseAddr(dst), uint16(dp))
		sec, err := strconv.ParseFloat(r[col["stun.time"]], 64)
		if err != nil {
			t.Fatal(fmt.Errorf("%s: stun.time %q: %w", path, r[col["stun.time"]], err))
		}
		k := [2]netip.AddrPort{requester, responder}
		s := out[k]
		d := int64(math.Round(sec * 1e9))
		s.Count++
		s.Sum += d
		s.Max = max(s.Max, d)
		out[k] = s
	}
	return out, uint64(len(answered))
}

// TestRTTAnswersAnOlderSR: in this capture the RR of frame 4 answers the SR of frame 1, not the
// latest one (frame 3), so tshark, which only matches the latest, gives no round trip. The
// MANIFEST works RFC 3550 by hand on the capture times: 4.028126 s − 263452/65536 s = 8.17 ms.
func TestRTTAnswersAnOlderSR(t *testing.T) {
	e := measure(t, filepath.Join(sharedCaptures(t), "ndpi-rtcp-compound-sr-rr-sll.pcap"))
	var all metrics.RTTStats
	for _, ssrc := range e.ReportedSSRCs() {
		all.Merge(e.Reports(ssrc).RTT)
	}
	want := 4.028126 - 263452.0/65536
	if all.Count != 1 || math.Abs(float64(all.Sum)/1e9-want) > 2e-6 {
		t.Errorf("round trips %+v, want one of %.6f s", all, want)
	}
}
