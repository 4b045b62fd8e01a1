package capture

import "testing"

// steadyFrames is a small mix of what a live source sees: RTP over Ethernet IPv4, RTP over a
// VLAN to IPv6, RTCP over Linux SLL2, RTP over BSD loopback.
func steadyFrames() []struct {
	link  LinkType
	frame []byte
} {
	return []struct {
		link  LinkType
		frame []byte
	}{
		{LinkEthernet, ethIPv4UDP},
		{LinkEthernet, cat(eth(0x8100), vlan(100, 0x86dd), udp6(rtpPayload))},
		{LinkSLL2, cat(sll2(0x0800), udp4(rtcpRR))},
		{LinkNull, cat([]byte{2, 0, 0, 0}, udp4(rtpPayload))},
	}
}

// TestDecodeAllocs is the hot path's contract (STYLE.md): decoding, classifying and parsing a
// packet into caller-owned values allocates nothing.
func TestDecodeAllocs(t *testing.T) {
	frames := steadyFrames()
	var p Packet
	var h RTPHeader
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		f := frames[i%len(frames)]
		i++
		if err := Decode(f.link, f.frame, &p); err != nil {
			t.Fatal(err)
		}
		p.Kind = Classify(p.Payload)
		if p.Kind == KindRTP && !ParseRTP(p.Payload, &h) {
			t.Fatal("ParseRTP failed on an RTP payload")
		}
	})
	if allocs != 0 {
		t.Errorf("Decode+Classify+ParseRTP: %v allocations per packet, want 0", allocs)
	}
	// The errors are sentinels: a frame that fails costs nothing either.
	arp := cat(eth(0x0806), make([]byte, 28))
	if a := testing.AllocsPerRun(100, func() { _ = Decode(LinkEthernet, arp, &p) }); a != 0 {
		t.Errorf("Decode of a non-IP frame: %v allocations, want 0", a)
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, f := range []struct {
		name  string
		link  LinkType
		frame []byte
	}{
		{"ethernet-ipv4", LinkEthernet, ethIPv4UDP},
		{"vlan-ipv6", LinkEthernet, cat(eth(0x8100), vlan(100, 0x86dd), udp6(rtpPayload))},
		{"sll2-ipv4", LinkSLL2, cat(sll2(0x0800), udp4(rtpPayload))},
	} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(f.frame)))
			var p Packet
			var h RTPHeader
			for b.Loop() {
				if Decode(f.link, f.frame, &p) != nil {
					b.Fatal("decode failed")
				}
				if p.Kind = Classify(p.Payload); p.Kind == KindRTP {
					ParseRTP(p.Payload, &h)
				}
			}
		})
	}
}
