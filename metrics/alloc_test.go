package metrics

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/tdq-agent/tdq-agent/capture"
)

// next advances an RTP packet built by rtpPkt by one 20 ms, 160-unit step, in place.
func next(p *capture.Packet) {
	b := p.Payload
	binary.BigEndian.PutUint16(b[2:4], binary.BigEndian.Uint16(b[2:4])+1)
	binary.BigEndian.PutUint32(b[4:8], binary.BigEndian.Uint32(b[4:8])+160)
	p.Time += 20 * ms
}

// TestEngineRTPAllocs is the hot path's contract (STYLE.md, DESIGN §2): a packet of a known
// stream allocates nothing. 2000 packets of 20 ms cross eight 5 s loss windows.
func TestEngineRTPAllocs(t *testing.T) {
	e := NewEngine(DefaultConfig())
	p := rtpPkt(t0, 1000, 0, 8, false)
	e.RTP(p)
	allocs := testing.AllocsPerRun(2000, func() {
		next(p)
		if s, created := e.RTP(p); s == nil || created {
			t.Fatal("steady stream lost")
		}
	})
	if allocs != 0 {
		t.Errorf("Engine.RTP: %v allocations per packet, want 0", allocs)
	}
	// A malformed packet costs nothing either.
	bad := &capture.Packet{Time: t0, Src: remote, Dst: local, Payload: []byte{0x80, 0x08}}
	if a := testing.AllocsPerRun(100, func() { e.RTP(bad) }); a != 0 {
		t.Errorf("Engine.RTP of a malformed packet: %v allocations, want 0", a)
	}
}

// srRR is an SR from B with a block about A, followed by an RR from B with blocks about C and
// A (RFC 3550 §6.4.2: an RR may follow an SR when the blocks do not fit in it).
func srRR() []byte {
	return cat(
		sr(ssrcB, ntpMid(0x00020000), block(ssrcA, 1, 1, 100, 10, 0x456789ab, 0x8000)),
		rr(ssrcB, block(ssrcC, 2, 2, 200, 20, 0, 0), block(ssrcA, 3, 3, 300, 30, 0x456789ab, 0x8000)),
	)
}

// TestEngineRTCPAllocs: once the decode scratch has grown to the report count, RTCP allocates
// nothing (AllocsPerRun's warm-up call grows it).
func TestEngineRTCPAllocs(t *testing.T) {
	e := NewEngine(DefaultConfig())
	e.RTCP(rtcpAt(1*s, sr(ssrcA, ntpMid(0x456789ab)))) // A's SR, so the blocks find an RTT
	p := rtcpAt(1520*ms, srRR())
	allocs := testing.AllocsPerRun(1000, func() {
		e.RTCP(p)
	})
	if allocs != 0 {
		t.Errorf("Engine.RTCP: %v allocations per datagram, want 0", allocs)
	}
	if c := e.Counters(); c.RTCPErrors != 0 || c.RTTSamples == 0 {
		t.Errorf("counters %+v: the datagram did not parse or matched no SR", c)
	}
}

// TestStreamSize keeps the per-stream state within budget: a busy device holds a few hundred
// streams and walks them per packet, so a Stream must stay small and fixed.
func TestStreamSize(t *testing.T) {
	if n := unsafe.Sizeof(Stream{}); n > 1024 {
		t.Errorf("Stream is %d bytes, budget 1024", n)
	}
}

func BenchmarkEngineRTP(b *testing.B) {
	const streams = 200
	e := NewEngine(DefaultConfig())
	pkts := make([]*capture.Packet, streams)
	for i := range pkts {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), uint16(20000+2*i))
		pkts[i] = &capture.Packet{Time: t0 + int64(i)*ms/10, Src: src, Dst: local, Kind: capture.KindRTP,
			Payload: rtpBytes(uint16(i*300), uint32(i)*7777, 8, false, 0x10000000+uint32(i), 160)}
		e.RTP(pkts[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := pkts[i%streams]
		i++
		next(p)
		e.RTP(p)
	}
}

func BenchmarkEngineRTCP(b *testing.B) {
	e := NewEngine(DefaultConfig())
	e.RTCP(rtcpAt(1*s, sr(ssrcA, ntpMid(0x456789ab))))
	p := rtcpAt(1520*ms, srRR())
	b.ReportAllocs()
	b.SetBytes(int64(len(p.Payload)))
	for b.Loop() {
		e.RTCP(p)
	}
}
