package agent

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/tdq-agent/tdq-agent/capture"
)

type frame struct {
	link capture.LinkType
	data []byte
	time int64
}

// loadFrames reads a capture into memory so that the measured loop does no I/O.
func loadFrames(t testing.TB, path string) []frame {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []frame
	var p capture.Packet
	for {
		err := src.Next(&p)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		lt, data := src.Frame()
		out = append(out, frame{lt, append([]byte(nil), data...), p.Time})
	}
}

// process is the agent's whole per-packet path: decode, classify, stream update, channel
// activity, idle sweep.
func process(r *run, f *frame, p *capture.Packet) {
	if capture.Decode(f.link, f.data, p) != nil {
		return
	}
	p.Time = f.time
	p.Kind = capture.Classify(p.Payload)
	r.packet(p)
}

// TestPerPacketPathAllocatesNothing replays a real call once to create its streams, then
// replays its packets again (same streams, steady state) under testing.AllocsPerRun.
func TestPerPacketPathAllocatesNothing(t *testing.T) {
	frames := loadFrames(t, filepath.Join("testdata", "lab", "loss2-in", "loss2-in.pcap"))
	cfg := DefaultConfig()
	cfg.Capture.Local = []string{"10.20.0.10"}
	a, err := New(cfg, nopLogger(), func(*Finished) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(a, newLocalizerNets(mustLocal(t, a)), "test")
	var p capture.Packet
	for i := range frames {
		process(r, &frames[i], &p)
	}
	i := 0
	allocs := testing.AllocsPerRun(len(frames), func() {
		f := frames[i%len(frames)]
		f.time = frames[len(frames)-1].time + int64(i)*1000 // time moves on, no call goes idle
		process(r, &f, &p)
		i++
	})
	if allocs != 0 {
		t.Errorf("per-packet path allocates %.2f times per packet, want 0", allocs)
	}
}

// BenchmarkPerPacketPath measures the per-packet path on a real call's packets.
func BenchmarkPerPacketPath(b *testing.B) {
	frames := loadFrames(b, filepath.Join("testdata", "lab", "loss2-in", "loss2-in.pcap"))
	cfg := DefaultConfig()
	cfg.Capture.Local = []string{"10.20.0.10"}
	a, _ := New(cfg, nopLogger(), func(*Finished) error { return nil })
	r := newRun(a, newLocalizerNets(mustLocal(b, a)), "bench")
	var p capture.Packet
	last := frames[len(frames)-1].time
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := frames[i%len(frames)]
		f.time = last + int64(i)*1000
		process(r, &f, &p)
	}
}
