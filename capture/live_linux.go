package capture

import (
	"errors"
	"fmt"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/sys/unix"
)

// LiveSource captures on a Linux interface through an AF_PACKET TPACKET_V3 ring (pure Go, no
// libpcap). The socket is cooked (SOCK_DGRAM): every packet starts at its IP header whatever
// the link (Ethernet, Wi-Fi, tun, VLAN: the kernel strips the tags), and a BPF program passes
// only UDP. Capturing the device's own traffic needs no promiscuous mode.
type LiveSource struct {
	name  string
	h     *afpacket.TPacket
	stats Stats
}

// Ring geometry: 16 blocks of 256 KiB (4 MiB) hold over a second of 200 streams' traffic; a
// block is handed over after 50 ms even when not full, which bounds the added latency.
const (
	ringFrame   = 4096
	ringBlock   = 256 << 10
	ringBlocks  = 16
	ringTimeout = 50 * time.Millisecond
	snapLen     = 4096
)

// OpenLive opens a capture on iface (AnyInterface for all). poll is how long Next waits for a
// packet before returning ErrTimeout.
func OpenLive(iface string, ports PortRange, promiscuous bool, poll time.Duration) (*LiveSource, error) {
	opts := []interface{}{
		afpacket.OptFrameSize(ringFrame), afpacket.OptBlockSize(ringBlock), afpacket.OptNumBlocks(ringBlocks),
		afpacket.OptBlockTimeout(ringTimeout), afpacket.OptPollTimeout(poll),
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3), afpacket.OptSocketType(afpacket.SocketDgram),
	}
	if iface != AnyInterface {
		opts = append(opts, afpacket.OptInterface(iface))
	}
	h, err := afpacket.NewTPacket(opts...)
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("capture on %s: %w (needs root or CAP_NET_RAW)", iface, err)
		}
		return nil, fmt.Errorf("capture on %s: %w", iface, err)
	}
	prog, err := udpFilter(snapLen, ports.Lo, ports.Hi)
	if err == nil {
		err = h.SetBPF(prog)
	}
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("capture on %s: set the UDP filter: %w", iface, err)
	}
	if promiscuous && iface != AnyInterface {
		if err := h.SetPromiscuous(true); err != nil {
			h.Close()
			return nil, fmt.Errorf("capture on %s: promiscuous mode: %w", iface, err)
		}
	}
	return &LiveSource{name: iface, h: h}, nil
}

// Name is the interface captured.
func (s *LiveSource) Name() string { return s.name }

// Next implements Source. It returns ErrTimeout when the poll interval passed without a packet.
func (s *LiveSource) Next(p *Packet) error {
	for {
		data, ci, err := s.h.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, afpacket.ErrTimeout) {
				return ErrTimeout
			}
			return fmt.Errorf("capture on %s: %w", s.name, err)
		}
		if s.stats.decode(LinkRaw, data, ci.Timestamp, p) {
			return nil
		}
	}
}

// Stats implements Source.
func (s *LiveSource) Stats() Stats { return s.stats }

// Live returns the kernel's counters for the socket since it opened.
func (s *LiveSource) Live() (LiveStats, error) {
	_, v3, err := s.h.SocketStats()
	if err != nil {
		return LiveStats{}, fmt.Errorf("capture statistics of %s: %w", s.name, err)
	}
	return LiveStats{Received: uint64(v3.Packets()), Dropped: uint64(v3.Drops())}, nil
}

// Close implements Source.
func (s *LiveSource) Close() error {
	s.h.Close()
	return nil
}

// linkSpeed reads /sys/class/net/IF/speed, in Mb/s (-1 or absent for links without one).
func linkSpeed(iface string) (int64, bool) {
	mbps, ok := readSysInt("/sys/class/net/" + iface + "/speed")
	if !ok || mbps <= 0 {
		return 0, false
	}
	return mbps * 1_000_000 / 8, true
}
