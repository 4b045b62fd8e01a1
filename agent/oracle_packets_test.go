package agent

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tdq-agent/tdq-agent/metrics"
)

// csvJitter is RFC 3550 A.8 worked from tshark's per-packet oracle (rtp-packets.csv) with a
// clock rate given from outside (the captures' MANIFEST), for streams whose dynamic payload type
// tshark cannot measure. Like tshark, marker packets feed the estimate but are not sampled, and
// the mean is Wireshark's running mean, mean = (mean·(k−1) + J)/k with k the packets before this
// one (the plain mean when no packet is left out). ICMP-quoted copies are not the stream's.
func csvJitter(t *testing.T, path string, key metrics.StreamKey, hz float64) (float64, float64, int) {
	t.Helper()
	rows, col := readCSV(t, path)
	var j, mean, maxJ float64
	var lastT float64
	k, n := 0, 0
	var lastTS uint32
	started := false
	for _, r := range rows {
		if strings.Contains(r[col["frame.protocols"]], "icmp") || !strings.EqualFold(r[col["rtp.ssrc"]], "0x"+strconv.FormatUint(uint64(key.SSRC)|1<<32, 16)[1:]) {
			continue
		}
		if r[col["udp.srcport"]] != strconv.Itoa(int(key.Src.Port())) || r[col["udp.dstport"]] != strconv.Itoa(int(key.Dst.Port())) {
			continue
		}
		at, _ := strconv.ParseFloat(r[col["frame.time_epoch"]], 64)
		ts64, _ := strconv.ParseUint(r[col["rtp.timestamp"]], 10, 32)
		ts := uint32(ts64)
		if started {
			d := math.Abs((at - lastT) - float64(int32(ts-lastTS))/hz)
			if d <= 3 {
				j += (d - j) / 16
				if r[col["rtp.marker"]] == "0" {
					mean = (mean*float64(k-1) + j) / float64(k)
					n++
					maxJ = math.Max(maxJ, j)
				}
			}
		}
		started, lastT, lastTS = true, at, ts
		k++
	}
	if n == 0 {
		t.Fatalf("%s: no packets of %08X", path, key.SSRC)
	}
	return mean, maxJ, n
}

// readCSV reads a tshark -T fields oracle with a header row: the data rows and the column of
// each field name.
func readCSV(t *testing.T, path string) ([][]string, map[string]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(fmt.Errorf("%s: %w", path, err))
	}
	if len(rows) == 0 {
		t.Fatalf("%s: empty", path)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	return rows[1:], col
}
