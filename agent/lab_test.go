package agent

import (
	"context"
	"encoding/json"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// labTruth is the part of a lab capture's truth file this test reads (testdata/lab/README.md).
type labTruth struct {
	Calls []struct {
		GraphReference map[string]any `json:"graph_reference"`
		RTT            struct {
			Expected float64 `json:"expected"`
		} `json:"rtt_ms"`
	} `json:"calls"`
}

// replay runs a capture through the agent as `analyze --local` does and returns its calls.
func replay(t *testing.T, path string, local ...string) []*Finished {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Capture.Local = local
	cfg.Device.Name, cfg.Device.Description = "room-1", "test device"
	var out []*Finished
	a, err := New(cfg, zap.NewNop(), func(f *Finished) error { out = append(out, f); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ReplayFile(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	return out
}

// isoSeconds parses the "PT…S" durations of the truth files (seconds only).
func isoSeconds(t *testing.T, v string) float64 {
	t.Helper()
	s, ok := strings.CutPrefix(v, "PT")
	if !ok || !strings.HasSuffix(s, "S") {
		t.Fatalf("not a PT…S duration: %q", v)
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "S"), 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLabRecords compares each lab call's record with the truth file's graph_reference, which
// was measured outside the agent (real GStreamer peers, the relay's own log, tshark). Tolerances
// are those of testdata/lab/README.md: counts and loss exact (to the truth's two decimals),
// capture-derived jitter ±0.01 ms, RTT samples ±0.05 ms. The inbound round trip is not visible
// at the device (the far end computes it); the agent reports the same-path samples, which must be
// within 2 ms of the truth's expected round trip.
func TestLabRecords(t *testing.T) {
	for _, preset := range []string{"clean", "delay40", "loss2-in"} {
		t.Run(preset, func(t *testing.T) {
			dir := filepath.Join("testdata", "lab", preset)
			raw, err := os.ReadFile(filepath.Join(dir, preset+".truth.json"))
			if err != nil {
				t.Fatal(err)
			}
			var truth labTruth
			if err := json.Unmarshal(raw, &truth); err != nil {
				t.Fatal(err)
			}
			ref := truth.Calls[0].GraphReference
			calls := replay(t, filepath.Join(dir, preset+".pcap"), "10.20.0.10")
			if len(calls) != 1 || len(calls[0].Body.Quality.MediaQualityList) != 1 {
				t.Fatalf("want 1 call with 1 channel, got %d calls", len(calls))
			}
			// Compare through the JSON Graph receives, not the Go structs.
			var body struct {
				Quality struct {
					MediaQualityList []map[string]any `json:"mediaQualityList"`
				} `json:"quality"`
			}
			if err := json.Unmarshal(calls[0].JSON, &body); err != nil {
				t.Fatal(err)
			}
			got := body.Quality.MediaQualityList[0]
			for key, want := range ref {
				g, ok := got[key]
				if !ok {
					t.Errorf("%s: missing from the record", key)
					continue
				}
				switch w := want.(type) {
				case string:
					if !strings.HasPrefix(w, "PT") {
						if g != w {
							t.Errorf("%s = %v, truth %v", key, g, w)
						}
						continue
					}
					gs, ws := isoSeconds(t, g.(string)), isoSeconds(t, w)
					tol := 0.00001 // 0.01 ms: jitter from capture timestamps
					switch {
					case strings.Contains(key, "InboundRoundTrip"):
						tol, ws = 0.002, truth.Calls[0].RTT.Expected/1e3
					case strings.Contains(key, "RoundTrip"):
						tol = 0.00005
					case strings.Contains(key, "OutboundJitter"):
						tol = 0.0000005 // from integer RTCP fields: exact to the truth's microseconds
					case key == "mediaDuration":
						tol = 0.0000005
					}
					if math.Abs(gs-ws) > tol {
						t.Errorf("%s = %v, truth %v (tolerance %gs)", key, g, w, tol)
					}
				case float64:
					gf := g.(float64)
					if strings.Contains(key, "Percentage") {
						gf = math.Round(gf*100) / 100 // the truth gives two decimals
					}
					if gf != w {
						t.Errorf("%s = %v, truth %v", key, g, w)
					}
				}
			}
		})
	}
}

func nopLogger() *zap.Logger { return zap.NewNop() }

func mustLocal(t testing.TB, a *Agent) []netip.Prefix {
	t.Helper()
	if len(a.local) == 0 {
		t.Fatal("no local address configured")
	}
	return a.local
}

// TestLabFarEndReports: the engine's view of the far end's RTCP about the device's stream holds
// exactly the report blocks the far peer sent (extracted with tshark into the truth file): their
// number, fraction lost, jitter, last cumulative lost and extended highest sequence number, and
// one round-trip sample per block that answers an SR, each within 0.05 ms of the truth's.
func TestLabFarEndReports(t *testing.T) {
	for _, preset := range []string{"clean", "delay40", "loss2-in"} {
		t.Run(preset, func(t *testing.T) {
			dir := filepath.Join("testdata", "lab", preset)
			raw, err := os.ReadFile(filepath.Join(dir, preset+".truth.json"))
			if err != nil {
				t.Fatal(err)
			}
			var truth struct {
				Calls []struct {
					Streams struct {
						Outbound []struct {
							SSRC    uint32 `json:"ssrc"`
							Reports []struct {
								Fraction float64  `json:"fraction_lost_pct"`
								CumLost  int32    `json:"cumulative_lost"`
								ExtHigh  uint32   `json:"ext_high_seq"`
								JitterTS float64  `json:"jitter_ts"`
								RTTMs    *float64 `json:"rtt_ms"`
							} `json:"receiver_reports"`
						} `json:"outbound"`
					} `json:"streams"`
				} `json:"calls"`
			}
			if err := json.Unmarshal(raw, &truth); err != nil {
				t.Fatal(err)
			}
			out := truth.Calls[0].Streams.Outbound[0]
			e := measure(t, filepath.Join(dir, preset+".pcap"))
			r := e.Reports(out.SSRC)
			if r == nil {
				t.Fatal("no reports about the device's stream")
			}
			var fracSum, fracMax, jSum, jMax, rttSum, rttMax float64
			var rttN uint64
			for _, b := range out.Reports {
				fracSum += b.Fraction
				fracMax = math.Max(fracMax, b.Fraction)
				jSum += b.JitterTS
				jMax = math.Max(jMax, b.JitterTS)
				if b.RTTMs != nil {
					rttN++
					rttSum += *b.RTTMs
					rttMax = math.Max(rttMax, *b.RTTMs)
				}
			}
			last := out.Reports[len(out.Reports)-1]
			if r.Count != uint64(len(out.Reports)) || math.Abs(r.FractionSum-fracSum) > 0.01 || math.Abs(r.FractionMax-fracMax) > 0.01 ||
				r.JitterSum != jSum || r.JitterMax != jMax || r.CumLost != last.CumLost || r.ExtHighest != last.ExtHigh {
				t.Errorf("reports %+v\nfar end sent %d blocks: fraction sum %.3f max %.3f, jitter sum %.0f max %.0f, last cumulative %d, ext high %d",
					*r, len(out.Reports), fracSum, fracMax, jSum, jMax, last.CumLost, last.ExtHigh)
			}
			if r.RTT.Count != rttN || math.Abs(float64(r.RTT.Sum)/1e6-rttSum) > 0.05*float64(rttN) || math.Abs(float64(r.RTT.Max)/1e6-rttMax) > 0.05 {
				t.Errorf("round trips %+v; truth %d samples, sum %.3f ms, max %.3f ms", r.RTT, rttN, rttSum, rttMax)
			}
		})
	}
}
