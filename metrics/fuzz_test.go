package metrics

import (
	"bytes"
	"errors"
	"io"
	"math"
	"testing"

	"github.com/tdq-agent/tdq-agent/capture"
)

// seedCapture is a real SIP call (pjsip and linphone) with SR+SDES, RR+SDES and BYE compounds.
// It must be there: a fuzz target seeded from hand-made bytes alone explores far less.
const seedCapture = "../agent/testdata/captures/smu20191-sip-linphone-pjsip-rtcp-sr-rr.pcapng"

// realPayloads returns copies of the UDP payloads of one kind in the seed capture, at most n.
func realPayloads(tb testing.TB, kind capture.Kind, n int) [][]byte {
	tb.Helper()
	src, err := capture.OpenFile(seedCapture)
	if err != nil {
		tb.Fatalf("seed capture: %v", err)
	}
	defer src.Close()
	var out [][]byte
	var p capture.Packet
	for len(out) < n {
		err := src.Next(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if p.Kind == kind {
			out = append(out, bytes.Clone(p.Payload))
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no %v packets in %s", kind, seedCapture)
	}
	return out
}

func FuzzRTCP(f *testing.F) {
	for _, b := range realPayloads(f, capture.KindRTCP, 100) {
		f.Add(b)
	}
	f.Add(srSDES)
	f.Add(rrSDES)
	f.Add(srRR())
	f.Fuzz(func(t *testing.T, b []byte) {
		e := NewEngine(DefaultConfig())
		// Twice: the second pass finds the first one's SRs in the history.
		e.RTCP(rtcpAt(1*s, b))
		e.RTCP(rtcpAt(1*s+250*ms, b))
		c := e.Counters()
		if c.RTCP != 2 {
			t.Fatalf("RTCP counter %d after two datagrams", c.RTCP)
		}
		for ssrc, r := range e.reports {
			if r.FractionMax < 0 || r.FractionMax > 100*255.0/256 || r.RTT.Count > r.Count ||
				r.RTT.Max < 0 || r.RTT.Max > maxRTT || r.RTT.Sum < 0 {
				t.Fatalf("reports on %#x out of range: %+v", ssrc, *r)
			}
		}
	})
}

func FuzzRTP(f *testing.F) {
	real := realPayloads(f, capture.KindRTP, 40)
	for i := 0; i+1 < len(real); i += 2 {
		f.Add(real[i], real[i+1], uint32(20e6))
	}
	f.Add(rtpBytes(65535, 0xffffff60, 8, false, 1, 160), rtpBytes(0, 0, 8, false, 1, 160), uint32(20e6))
	f.Add(rtpBytes(1, 0, 13, true, 1, 1), rtpBytes(9000, 1e6, 111, false, 1, 0), uint32(0))
	f.Fuzz(func(t *testing.T, a, b []byte, dt uint32) {
		e := NewEngine(Config{Window: DefaultConfig().Window, ClockRates: map[uint8]uint32{111: 48000}})
		at := t0
		// a, b, a again (a copy, or a late packet), then b after a long pause.
		for _, pl := range [][]byte{a, b, a, b} {
			e.RTP(&capture.Packet{Time: at, Src: remote, Dst: local, Kind: capture.KindRTP, Payload: pl})
			at += int64(dt)
		}
		for k, st := range e.streams {
			got := st.Stats()
			if got.Packets == 0 || got.Lost > got.Expected || got.Expected < 0 {
				t.Fatalf("stream %v: %+v", k, got)
			}
			for _, v := range []float64{got.JitterMean, got.JitterMax, got.MaxWindowLoss} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Fatalf("stream %v: %+v", k, got)
				}
			}
			if got.MaxWindowLoss > 100 {
				t.Fatalf("window loss %g %%", got.MaxWindowLoss)
			}
		}
	})
}
