package agent

import (
	"fmt"
	"math"
	"testing"
)

// TestMOS checks the E-model against cases worked by hand from G.107 (see mos.go):
// R = 93.2 − Idd − Ie,eff (G.107 §7.1), Ie,eff = Ie + (95 − Ie)·Ppl/(Ppl + Bpl) (§7.5) with BurstR = 1,
// Idd of §7.4, MOS of Annex B. Ta = RTT/2 + 2·jitter + 20 ms.
func TestMOS(t *testing.T) {
	cases := []struct {
		name              string
		loss, jitter, rtt float64
		codec             string
		wantR, wantMOS    float64
		wantMOS2dp        string // as the call-end log writes it
	}{
		{
			// Ta = 0/2 + 2·0 + 20 = 20 ms ≤ 100: Idd = 0. Ppl = 0: Ie,eff = Ie = 0. R = 93.2.
			// MOS = 1 + 0.035·93.2 + 93.2·(93.2−60)·(100−93.2)·7e-6
			//     = 1 + 3.262 + 93.2·33.2·6.8·7e-6 = 1 + 3.262 + 0.147286 = 4.409286
			name: "defaults: no loss, no delay", codec: codecG711,
			wantR: 93.2, wantMOS: 4.409286, wantMOS2dp: "4.41",
		},
		{
			// Ta = 20 ms: Idd = 0. Ie,eff = 0 + 95·1/(1 + 25.1) = 95/26.1 = 3.639847.
			// R = 93.2 − 3.639847 = 89.560153.
			// MOS = 1 + 0.035·89.560153 + 89.560153·29.560153·10.439847·7e-6
			//     = 1 + 3.134605 + 27638.5744·7e-6 = 1 + 3.134605 + 0.193470 = 4.328075
			name: "G.711 with PLC, 1 % random loss", loss: 1, codec: codecG711,
			wantR: 89.560153, wantMOS: 4.328075, wantMOS2dp: "4.33",
		},
		{
			// Ie,eff = 95·5/(5 + 25.1) = 475/30.1 = 15.780731. R = 93.2 − 15.780731 = 77.419269.
			// MOS = 1 + 0.035·77.419269 + 77.419269·17.419269·22.580731·7e-6
			//     = 1 + 2.709674 + 30452.0819·7e-6 = 1 + 2.709674 + 0.213165 = 3.922839
			name: "G.711 with PLC, 5 % random loss", loss: 5, codec: codecG711,
			wantR: 77.419269, wantMOS: 3.922839, wantMOS2dp: "3.92",
		},
		{
			// Without PLC, Bpl = 4.3: Ie,eff = 95·1/(1 + 4.3) = 17.924528. R = 75.275472.
			// MOS = 1 + 2.634642 + 75.275472·15.275472·24.724528·7e-6 = 1 + 2.634642 + 0.199010
			//     = 3.833652
			name: "G.711 without PLC, 1 % random loss", loss: 1, codec: codecG711NoPLC,
			wantR: 75.275472, wantMOS: 3.833652, wantMOS2dp: "3.83",
		},
		{
			// RTT 560 ms, no jitter: Ta = 280 + 0 + 20 = 300 ms. X = log2(300/100) = 1.5849625.
			// X⁶ = 15.853056; (1 + X⁶)^⅙ = 16.853056^⅙ = 1.601202.
			// (X/3)⁶ = 15.853056/729 = 0.021746; (1.021746)^⅙ = 1.003592; ×3 = 3.010777.
			// Idd = 25·(1.601202 − 3.010777 + 2) = 25·0.590425 = 14.7606. R = 93.2 − 14.7606 = 78.4394.
			// MOS = 1 + 0.035·78.4394 + 78.4394·18.4394·21.5606·7e-6 = 1 + 2.745379 + 0.218293
			//     = 3.963672
			name: "300 ms one-way delay", rtt: 560, codec: codecG711,
			wantR: 78.4394, wantMOS: 3.963672, wantMOS2dp: "3.96",
		},
		{
			// The jitter allowance counts twice: RTT 400, jitter 40: Ta = 200 + 80 + 20 = 300 ms,
			// the same Ta, so the same R as the case above.
			name: "jitter buffer allowance", rtt: 400, jitter: 40, codec: codecG711,
			wantR: 78.4394, wantMOS: 3.963672, wantMOS2dp: "3.96",
		},
		{
			// Ie,eff = 95·100/(100 + 4.3) = 91.083413; Idd at Ta = 300 ms = 14.7606 (above).
			// R = 93.2 − 14.7606 − 91.0834 = −12.6440 < 0: MOS = 1 (Annex B).
			name: "R below 0 clamps MOS to 1", loss: 100, rtt: 560, codec: codecG711NoPLC,
			wantR: -12.6440, wantMOS: 1, wantMOS2dp: "1.00",
		},
		{
			// G.729A + VAD: Ie = 11, Bpl = 19.0. 2 % loss: Ie,eff = 11 + 84·2/(2 + 19) = 11 + 8 = 19.
			// R = 93.2 − 19 = 74.2. MOS = 1 + 2.597 + 74.2·14.2·25.8·7e-6 = 1 + 2.597 + 0.190285
			//     = 3.787285
			name: "G.729, 2 % random loss", loss: 2, codec: codecG729,
			wantR: 74.2, wantMOS: 3.787285, wantMOS2dp: "3.79",
		},
		{
			// An unknown codec is rated as G.711 with PLC: the 1 % case's numbers.
			name: "unknown codec as G.711 with PLC", loss: 1, codec: "x-unknown",
			wantR: 89.560153, wantMOS: 4.328075, wantMOS2dp: "4.33",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, m := mos(tc.loss, tc.jitter, tc.rtt, tc.codec)
			// Hand arithmetic carries 6 decimals of R and 4 of Idd.
			if math.Abs(r-tc.wantR) > 1e-3 {
				t.Errorf("R = %.6f, want %.6f", r, tc.wantR)
			}
			if math.Abs(m-tc.wantMOS) > 1e-4 {
				t.Errorf("MOS = %.6f, want %.6f", m, tc.wantMOS)
			}
			if got := fmt.Sprintf("%.2f", round2(m)); got != tc.wantMOS2dp {
				t.Errorf("MOS rounds to %s, want %s", got, tc.wantMOS2dp)
			}
		})
	}
}

// TestMOSFromR: Annex B's clamps and its end points.
func TestMOSFromR(t *testing.T) {
	cases := []struct {
		name string
		r    float64
		want float64
	}{
		{"R below 0 is 1", -5, 1},
		{"R = 0 is 1", 0, 1},                             // 1 + 0 + 0
		{"R = 60 is 3.1", 60, 3.1},                       // 1 + 2.1 + 0 (the cubic term vanishes)
		{"R = 100 is 4.5", 100, 4.5},                     // 1 + 3.5 + 0
		{"R above 100 is 4.5", 105, 4.5},                 // clamp
		{"R = 80 is 4.024", 80, 1 + 2.8 + 80*20*20*7e-6}, // 1 + 2.8 + 0.224
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mosFromR(tc.r); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("mosFromR(%v) = %v, want %v", tc.r, got, tc.want)
			}
		})
	}
}

// TestCodecOf: static payload types by RFC 3551, Opus by its 48 kHz clock.
func TestCodecOf(t *testing.T) {
	cases := []struct {
		name  string
		pt    uint8
		clock uint32
		want  string
	}{
		{"PCMU", 0, 8000, codecG711},
		{"PCMA", 8, 8000, codecG711},
		{"G.729", 18, 8000, codecG729},
		{"G.723.1", 4, 8000, codecG723},
		{"dynamic at 48 kHz is Opus", 111, 48000, codecOpus},
		{"dynamic at 16 kHz is unknown", 96, 16000, codecUnknown},
		{"G.722 is unknown to G.113 Appendix I", 9, 8000, codecUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := codecOf(tc.pt, tc.clock); got != tc.want {
				t.Errorf("codecOf(%d, %d) = %q, want %q", tc.pt, tc.clock, got, tc.want)
			}
		})
	}
}

// TestEstimateMOS: a channel is rated by its worse direction, and not at all without a round
// trip or any loss figure.
func TestEstimateMOS(t *testing.T) {
	cases := []struct {
		name                   string
		inLoss, inJit, outLoss float64
		outJit, rtt            float64
		wantMOS2dp             string // "-" for none
		wantR                  float64
	}{
		// Inbound 1 % (R 89.560153, above), outbound 5 % (R 77.419269): outbound is worse.
		{"worse direction is outbound", 1, 0, 5, 0, 0, "3.92", 77.419269},
		{"worse direction is inbound", 5, 0, 1, 0, 0, "3.92", 77.419269},
		// No remote report: inbound alone.
		{"no RTCP: inbound only", 1, 0, -1, -1, 0, "4.33", 89.560153},
		// Inbound: Ta = 200 + 2·40 + 20 = 300 ms (R 78.4394); outbound without jitter: Ta = 220
		// ms, X = log2(2.2) = 1.137504, X⁶ = 2.166290; (3.166290)^⅙ = 1.211784; (X/3)⁶ =
		// 0.002972, (1.002972)^⅙ = 1.000495, ×3 = 3.001484; Idd = 25·0.210300 = 5.2575,
		// R = 87.9425: inbound is worse.
		{"jitter of each direction", 0, 40, 0, -1, 400, "3.96", 78.4394},
		{"no round trip", 1, 0, 1, 0, -1, "-", 0},
		{"no loss figure", -1, 0, -1, 0, 10, "-", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sum := ChannelSummary{InLossPct: tc.inLoss, InJitterMs: tc.inJit, OutLossPct: tc.outLoss,
				OutJitterMs: tc.outJit, RTTMs: tc.rtt, MOS: -1}
			estimateMOS(&sum, codecG711)
			if tc.wantMOS2dp == "-" {
				if sum.MOS != -1 {
					t.Errorf("MOS = %v, want -1 (not estimated)", sum.MOS)
				}
				return
			}
			if got := fmt.Sprintf("%.2f", round2(sum.MOS)); got != tc.wantMOS2dp || math.Abs(sum.R-tc.wantR) > 1e-3 {
				t.Errorf("MOS %s R %.4f, want %s R %.4f", got, sum.R, tc.wantMOS2dp, tc.wantR)
			}
		})
	}
}
