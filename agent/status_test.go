package agent

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/tdq-agent/tdq-agent/capture"
)

// TestStatusAfterReplay: the status a source hands over counts what tshark counts in the clean
// lab capture (2990 RTP and 14 RTCP packets, clean.rtp_streams.txt and the MANIFEST) and says
// the source has stopped after its one call.
func TestStatusAfterReplay(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Capture.Local = []string{"10.20.0.10"}
	a, err := New(cfg, zap.NewNop(), func(*Finished) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "lab", "clean", "clean.pcap")
	if err := a.ReplayFile(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	st := a.Status()
	if len(st) != 1 {
		t.Fatalf("%d sources, want 1", len(st))
	}
	s := st[0]
	if s.Source != path || s.Running || s.Err != "" || s.CallsEnded != 1 || s.Calls != 0 || s.Streams != 0 {
		t.Errorf("status %+v; want the file, stopped, 1 call ended, nothing active", s)
	}
	if s.Packets[capture.KindRTP] != 2990 || s.Packets[capture.KindRTCP] != 14 {
		t.Errorf("packets by kind %v; want 2990 RTP, 14 RTCP", s.Packets)
	}
	// PCMA: 160 bytes of payload plus a 12-byte header in every RTP datagram.
	if s.Bytes[capture.KindRTP] != 2990*172 {
		t.Errorf("RTP bytes %d, want %d", s.Bytes[capture.KindRTP], 2990*172)
	}
}
