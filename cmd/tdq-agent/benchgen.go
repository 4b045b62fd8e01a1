package main

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// synthSpec describes the generated benchmark capture: concurrent PCMA-like streams, each one
// packet every 20 ms, with random loss and arrival jitter, seen from one device.
type synthSpec struct {
	Streams int
	Packets int
	Loss    float64       // probability that a packet is missing
	Jitter  time.Duration // arrival time spread (uniform, ±)
	Seed    uint64
}

// writeSynth writes the capture as Ethernet/IPv4/UDP/RTP frames in a classic pcap file. Half the
// streams are sent by the device (10.0.0.1), half received, each on its own port pair.
func writeSynth(path string, spec synthSpec) (written int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriterNanos(bw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15))
	const ptime = 20 * time.Millisecond
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	frame := make([]byte, 14+20+8+12+160)
	seq := make([]uint16, spec.Streams)
	for i := range seq {
		seq[i] = uint16(rng.IntN(65536))
	}
	for tick := 0; written < spec.Packets; tick++ {
		for s := 0; s < spec.Streams && written < spec.Packets; s++ {
			seq[s]++
			if rng.Float64() < spec.Loss {
				continue
			}
			// Streams start spread over one packet time so the capture is in arrival order.
			base := time.Duration(tick)*ptime + time.Duration(s)*ptime/time.Duration(spec.Streams)
			jit := time.Duration((rng.Float64()*2 - 1) * float64(spec.Jitter) / 4)
			synthFrame(frame, s, seq[s], uint32(tick*160))
			ci := gopacket.CaptureInfo{Timestamp: start.Add(base + jit), CaptureLength: len(frame), Length: len(frame)}
			if err := w.WritePacket(ci, frame); err != nil {
				return written, err
			}
			written++
		}
	}
	return written, bw.Flush()
}

// synthFrame fills b with one RTP packet of stream s. Even streams are inbound to the device,
// odd ones outbound, so that the agent sees 100 two-way channels.
func synthFrame(b []byte, s int, seq uint16, ts uint32) {
	device := [4]byte{10, 0, 0, 1}
	peer := [4]byte{10, 1, byte(s / 2 >> 8), byte(s / 2)}
	devPort, peerPort := uint16(20000+s/2*2), uint16(30000+s/2*2)
	src, dst, sport, dport := peer, device, peerPort, devPort
	if s%2 == 1 {
		src, dst, sport, dport = device, peer, devPort, peerPort
	}
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 1})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(b[12:14], 0x0800)
	ip := b[14:34]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:4], uint16(len(b)-14))
	binary.BigEndian.PutUint32(ip[4:8], 0)
	ip[8], ip[9] = 64, 17
	binary.BigEndian.PutUint16(ip[10:12], 0)
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	udp := b[34:42]
	binary.BigEndian.PutUint16(udp[0:2], sport)
	binary.BigEndian.PutUint16(udp[2:4], dport)
	binary.BigEndian.PutUint16(udp[4:6], uint16(len(b)-34))
	binary.BigEndian.PutUint16(udp[6:8], 0)
	rtp := b[42:54]
	rtp[0], rtp[1] = 0x80, 8 // version 2, PCMA
	binary.BigEndian.PutUint16(rtp[2:4], seq)
	binary.BigEndian.PutUint32(rtp[4:8], ts)
	binary.BigEndian.PutUint32(rtp[8:12], 0x10000000+uint32(s))
}
