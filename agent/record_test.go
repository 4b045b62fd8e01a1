package agent

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestDurationISO8601 checks the duration form against values worked by hand: Graph's
// Edm.Duration wants ISO 8601, at most 7 fractional digits, never Go's "20.3ms" or exponents.
func TestDurationISO8601(t *testing.T) {
	cases := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"zero", 0, "PT0S"},
		{"design example 20.3 ms", 20300 * time.Microsecond, "PT0.0203S"},
		{"sub-100ns rounds to zero", 49 * time.Nanosecond, "PT0S"},
		{"100 ns is the last digit", 100 * time.Nanosecond, "PT0.0000001S"},
		{"rounds half up at 100 ns", 66250 * time.Nanosecond, "PT0.0000663S"},
		{"whole seconds", 30 * time.Second, "PT30S"},
		{"minutes", 65*time.Second + 500*time.Millisecond, "PT1M5.5S"},
		{"hours, no seconds", 2 * time.Hour, "PT2H"},
		{"hours minutes seconds", time.Hour + 2*time.Minute + 3*time.Second, "PT1H2M3S"},
		{"tiny value, no exponent", 300 * time.Nanosecond, "PT0.0000003S"},
		{"negative", -1500 * time.Millisecond, "-PT1.5S"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Duration(tc.in).ISO8601(); got != tc.want {
				t.Errorf("ISO8601(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

var (
	guidRE     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	durationRE = regexp.MustCompile(`^PT(\d+H)?(\d+M)?(\d+(\.\d{1,7})?S)?$`)
)

// checkBody asserts DESIGN §5 on a request body as Graph would receive it.
func checkBody(t *testing.T, js []byte) map[string]any {
	t.Helper()
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if len(body) != 1 {
		t.Fatalf("body must hold only \"quality\", has %d keys", len(body))
	}
	q, ok := body["quality"].(map[string]any)
	if !ok {
		t.Fatal(`no "quality" object`)
	}
	if q["@odata.type"] != "#microsoft.graph.teleconferenceDeviceQuality" {
		t.Errorf("quality @odata.type = %v", q["@odata.type"])
	}
	for _, k := range []string{"callChainId", "participantId", "mediaLegId"} {
		if s, _ := q[k].(string); !guidRE.MatchString(s) {
			t.Errorf("%s = %q, want a lowercase GUID", k, s)
		}
	}
	for _, k := range []string{"deviceName", "deviceDescription"} {
		if s, _ := q[k].(string); s == "" {
			t.Errorf("%s is required", k)
		}
	}
	list, _ := q["mediaQualityList"].([]any)
	if len(list) == 0 {
		t.Fatal("mediaQualityList is empty")
	}
	for i, item := range list {
		m := item.(map[string]any)
		typ := m["@odata.type"]
		if typ != "#microsoft.graph.teleconferenceDeviceAudioQuality" && typ != "#microsoft.graph.teleconferenceDeviceVideoQuality" {
			t.Errorf("item %d @odata.type = %v", i, typ)
		}
		if n, _ := m["channelIndex"].(json.Number); n.String() != strconvItoa(i+1) {
			t.Errorf("item %d channelIndex = %v, want %d", i, m["channelIndex"], i+1)
		}
		for k, v := range m {
			switch {
			case strings.HasSuffix(k, "Jitter") || strings.HasSuffix(k, "RoundTripDelay") || k == "mediaDuration":
				if s, _ := v.(string); !durationRE.MatchString(s) {
					t.Errorf("item %d %s = %v, want an ISO 8601 duration", i, k, v)
				}
			case strings.HasSuffix(k, "InPercentage"):
				f, err := v.(json.Number).Float64()
				if err != nil || f < 0 || f > 100 || strings.ContainsAny(v.(json.Number).String(), "eE") {
					t.Errorf("item %d %s = %v, want a 0-100 percentage without exponent", i, k, v)
				}
			case strings.HasSuffix(k, "Packets") || strings.HasSuffix(k, "Port"):
				if _, err := v.(json.Number).Int64(); err != nil {
					t.Errorf("item %d %s = %v, want an integer", i, k, v)
				}
			}
		}
		if _, ok := m["networkLinkSpeedInBytes"]; ok {
			t.Errorf("item %d: networkLinkSpeedInBytes must be omitted offline (not measured)", i)
		}
	}
	return q
}

func strconvItoa(i int) string { return strconv.Itoa(i) }

// TestRecordGolden pins the whole body for the clean lab call; -update rewrites it after a
// deliberate change (review the diff: every number in it is checked elsewhere against outside
// truth, this test catches unintended changes of form).
func TestRecordGolden(t *testing.T) {
	calls := replay(t, filepath.Join("testdata", "lab", "clean", "clean.pcap"), "10.20.0.10")
	if len(calls) != 1 {
		t.Fatalf("want 1 call, got %d", len(calls))
	}
	checkBody(t, calls[0].JSON)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, calls[0].JSON, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "golden", "clean.json")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./agent -run TestRecordGolden -update to create it)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("body differs from %s:\n%s", golden, pretty.String())
	}
}

// TestRecordOmitsUnmeasured: a one-way capture with no RTCP has no outbound stream, no reports
// and no round trip; those fields must be absent, never 0.
func TestRecordOmitsUnmeasured(t *testing.T) {
	calls := replay(t, filepath.Join("testdata", "captures", "rtpproxy-g723-1.rtp"))
	if len(calls) != 1 {
		t.Fatalf("want 1 call, got %d", len(calls))
	}
	q := checkBody(t, calls[0].JSON)
	m := q["mediaQualityList"].([]any)[0].(map[string]any)
	for _, k := range []string{"outboundPackets", "averageOutboundJitter", "maximumOutboundJitter",
		"averageOutboundPacketLossRateInPercentage", "maximumOutboundPacketLossRateInPercentage",
		"averageOutboundRoundTripDelay", "maximumOutboundRoundTripDelay",
		"averageInboundRoundTripDelay", "maximumInboundRoundTripDelay"} {
		if v, ok := m[k]; ok {
			t.Errorf("%s = %v, want it omitted (not measured)", k, v)
		}
	}
	for _, k := range []string{"inboundPackets", "averageInboundJitter", "averageInboundPacketLossRateInPercentage"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s missing: the inbound stream was measured", k)
		}
	}
}
