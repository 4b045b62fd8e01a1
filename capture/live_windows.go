package capture

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/gopacket/gopacket/pcap"
)

// LiveSource captures on a Windows interface through Npcap: gopacket's pcap package loads
// wpcap.dll at run time, so the agent builds without cgo and says clearly when Npcap is missing.
type LiveSource struct {
	name  string
	h     *pcap.Handle
	link  LinkType
	stats Stats
}

const snapLen = 4096

// OpenLive opens a capture on iface: a friendly name ("Ethernet"), an interface GUID, or an
// Npcap device name (\Device\NPF_{GUID}); AnyInterface is not available on Windows.
func OpenLive(iface string, ports PortRange, promiscuous bool, poll time.Duration) (*LiveSource, error) {
	if iface == AnyInterface {
		return nil, errors.New(`capture: "any" is not available with Npcap; list the interfaces by name`)
	}
	dev, err := npcapDevice(iface)
	if err != nil {
		return nil, err
	}
	h, err := pcap.OpenLive(dev, snapLen, promiscuous, poll)
	if err != nil {
		return nil, fmt.Errorf("capture on %s: %w", iface, npcapHint(err))
	}
	filter := "udp"
	if ports.Lo != 0 || ports.Hi != 0xffff {
		filter = fmt.Sprintf("udp and (src portrange %d-%d or dst portrange %d-%d)", ports.Lo, ports.Hi, ports.Lo, ports.Hi)
	}
	if err := h.SetBPFFilter(filter); err != nil {
		h.Close()
		return nil, fmt.Errorf("capture on %s: set the UDP filter: %w", iface, err)
	}
	return &LiveSource{name: iface, h: h, link: LinkType(h.LinkType())}, nil
}

// npcapDevice finds the Npcap device of an interface given by friendly name or GUID.
func npcapDevice(iface string) (string, error) {
	if strings.HasPrefix(iface, `\Device\NPF_`) {
		return iface, nil
	}
	if strings.HasPrefix(iface, "{") {
		return `\Device\NPF_` + iface, nil
	}
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return "", fmt.Errorf("list capture devices: %w", npcapHint(err))
	}
	ni, err := net.InterfaceByName(iface)
	if err != nil {
		return "", fmt.Errorf("interface %q: %w", iface, err)
	}
	addrs, _ := ni.Addrs()
	for _, d := range devs {
		for _, da := range d.Addresses {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.Equal(da.IP) {
					return d.Name, nil
				}
			}
		}
	}
	return "", fmt.Errorf("interface %q: no Npcap device has its addresses; give its GUID instead", iface)
}

func npcapHint(err error) error {
	if strings.Contains(strings.ToLower(err.Error()), "wpcap") {
		return fmt.Errorf("%w (Npcap is not installed: install it from npcap.com)", err)
	}
	return err
}

// Name is the interface captured.
func (s *LiveSource) Name() string { return s.name }

// Next implements Source. It returns ErrTimeout when the poll interval passed without a packet.
func (s *LiveSource) Next(p *Packet) error {
	for {
		data, ci, err := s.h.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, pcap.NextErrorTimeoutExpired) {
				return ErrTimeout
			}
			return fmt.Errorf("capture on %s: %w", s.name, err)
		}
		if s.stats.decode(s.link, data, ci.Timestamp, p) {
			return nil
		}
	}
}

// Stats implements Source.
func (s *LiveSource) Stats() Stats { return s.stats }

// Live returns Npcap's counters for the capture since it opened.
func (s *LiveSource) Live() (LiveStats, error) {
	st, err := s.h.Stats()
	if err != nil {
		return LiveStats{}, fmt.Errorf("capture statistics of %s: %w", s.name, err)
	}
	return LiveStats{Received: uint64(st.PacketsReceived), Dropped: uint64(st.PacketsDropped + st.PacketsIfDropped)}, nil
}

// Close implements Source.
func (s *LiveSource) Close() error {
	s.h.Close()
	return nil
}

// linkSpeed is not read on Windows yet: networkLinkSpeedInBytes is omitted there.
func linkSpeed(string) (int64, bool) { return 0, false }
