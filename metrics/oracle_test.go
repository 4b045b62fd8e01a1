package metrics

import (
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tdq-agent/tdq-agent/capture"
)

// TestRTTAgainstTshark cross-checks every RTT sample on a real exchange (pjsip and linphone,
// SR+SDES both ways) with Wireshark's rtcp.roundtrip-delay, which tshark computes from the same
// capture times (oracle CSV made with `tshark -T fields -e rtcp.roundtrip-delay ...`).
func TestRTTAgainstTshark(t *testing.T) {
	const capFile = "../agent/testdata/captures/smu20191-sip-linphone-pjsip-rtcp-sr-rr.pcapng"
	const oracle = "../agent/testdata/captures/oracle/smu20191-sip-linphone-pjsip-rtcp-sr-rr.pcapng.rtcp.csv"
	f, err := os.Open(oracle)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	want := map[uint64]float64{} // frame number -> RTT in ms
	for _, r := range rows[1:] {
		if r[col["rtcp.roundtrip-delay"]] == "" {
			continue
		}
		frame, _ := strconv.ParseUint(r[col["frame.number"]], 10, 64)
		// One report block per packet in this capture; a BYE repeats the field list.
		v, err := strconv.ParseFloat(strings.Split(r[col["rtcp.roundtrip-delay"]], ";")[0], 64)
		if err != nil {
			t.Fatal(err)
		}
		want[frame] = v
	}
	if len(want) < 10 {
		t.Fatalf("oracle has %d RTT samples, expected a dozen", len(want))
	}

	src, err := capture.OpenFile(capFile)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	e := NewEngine(DefaultConfig())
	var p capture.Packet
	matched := 0
	for {
		err := src.Next(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind != capture.KindRTCP {
			continue
		}
		before := e.Counters().RTTSamples
		sums := map[uint32]int64{}
		for ssrc, r := range e.reports {
			sums[ssrc] = r.RTT.Sum
		}
		e.RTCP(&p)
		frame := src.Stats().Frames
		w, ok := want[frame]
		if !ok {
			if e.Counters().RTTSamples != before {
				t.Errorf("frame %d: an RTT sample where tshark has none", frame)
			}
			continue
		}
		if e.Counters().RTTSamples != before+1 {
			t.Errorf("frame %d: no RTT sample, tshark says %g ms", frame, w)
			continue
		}
		for ssrc, r := range e.reports {
			if d := r.RTT.Sum - sums[ssrc]; d != 0 {
				got := float64(d) / 1e6
				// tshark works in whole milliseconds: the capture-time gap is seconds·1000 plus
				// the nanosecond difference / 10^6 truncated toward zero (off by less than 1 ms
				// either way), minus DLSR in ms truncated (off by less than 1 ms). So its value is
				// within 2 ms of the exact one: frame 1487 is 0.337 ms exact, 2 ms in tshark.
				if math.Abs(got-w) >= 2 {
					t.Errorf("frame %d: RTT %.3f ms, tshark %g ms", frame, got, w)
				}
				matched++
			}
		}
	}
	if matched != len(want) {
		t.Errorf("compared %d samples, oracle has %d", matched, len(want))
	}
}
