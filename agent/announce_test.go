package agent

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tdq-agent/tdq-agent/agent/ops"
)

// fixedIdentities announces one identity for one local port, whenever asked.
type fixedIdentities struct {
	port uint16
	id   ops.Identity
}

func (f fixedIdentities) Lookup(port uint16, _ time.Time) (ops.Identity, bool) {
	return f.id, port == f.port
}

func replayWith(t *testing.T, path string, ids Identities, require bool, local ...string) []*Finished {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Capture.Local = local
	var out []*Finished
	a, err := New(cfg, zap.NewNop(), func(f *Finished) error { out = append(out, f); return nil })
	if err != nil {
		t.Fatal(err)
	}
	a.SetIdentities(ids, require, time.Minute)
	if err := a.ReplayFile(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAnnouncedIdentity: an identity announced for the call's local port replaces the generated
// ids in the record; with identity: require and nothing announced, the call is held and, when
// the source ends, still sent (generated ids) rather than lost.
func TestAnnouncedIdentity(t *testing.T) {
	lab := filepath.Join("testdata", "lab", "clean", "clean.pcap")
	id := ops.Identity{CallChainID: "2a9b1c7e-0d3f-4b8a-9e21-5c6d7f8a9b0c", ParticipantID: "3b0c2d8f-1e4a-4c9b-8f32-6d7e8f9a0b1c", MediaLegID: "4c1d3e9a-2f5b-4dac-9a43-7e8f9a0b1c2d"}
	calls := replayWith(t, lab, fixedIdentities{50000, id}, false, "10.20.0.10")
	q := calls[0].Body.Quality
	if len(calls) != 1 || q.CallChainID != id.CallChainID || q.ParticipantID != id.ParticipantID || q.MediaLegID != id.MediaLegID || calls[0].GeneratedIDs {
		t.Errorf("record ids %s %s %s (generated %v), want the announced ones", q.CallChainID, q.ParticipantID, q.MediaLegID, calls[0].GeneratedIDs)
	}
	checkBody(t, calls[0].JSON) // re-marshalled after the ids changed: still the exact form

	calls = replayWith(t, lab, fixedIdentities{1, id}, true, "10.20.0.10")
	if len(calls) != 1 || !calls[0].GeneratedIDs || calls[0].Body.Quality.CallChainID == id.CallChainID {
		t.Errorf("with require and no announcement: %d records, generated %v; want the call sent with generated ids at the end", len(calls), len(calls) == 1 && calls[0].GeneratedIDs)
	}
}

// TestSignalledClock: an SDP announced for the device's port gives the Opus stream of
// ms2-rtp-534late (dynamic PT 124) its 48 kHz clock as "sdp", not inferred.
func TestSignalledClock(t *testing.T) {
	path := filepath.Join(sharedCaptures(t), "ms2-rtp-534late-24loss-7000total.pcapng")
	ids := fixedIdentities{7076, ops.Identity{CallChainID: "2a9b1c7e-0d3f-4b8a-9e21-5c6d7f8a9b0c",
		ParticipantID: "3b0c2d8f-1e4a-4c9b-8f32-6d7e8f9a0b1c", MediaLegID: "4c1d3e9a-2f5b-4dac-9a43-7e8f9a0b1c2d",
		ClockRates: map[uint8]uint32{124: 48000}}}
	calls := replayWith(t, path, ids, false, "192.168.2.14")
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	if ch := calls[0].Channels[0]; ch.Clock != 48000 || ch.ClockSource != "sdp" {
		t.Errorf("clock %d (%s), want 48000 (sdp)", ch.Clock, ch.ClockSource)
	}
}
