package capture

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// ErrTimeout is returned by a live source's Next when no packet arrived within its poll
// interval, so that its owner can end idle calls by the wall clock.
var ErrTimeout = errors.New("no packet within the poll interval")

// AnyInterface captures on every interface at once.
const AnyInterface = "any"

// LiveStats is what the kernel (or Npcap) says about a live capture.
type LiveStats struct {
	Received uint64 // packets the filter passed
	Dropped  uint64 // packets lost because the agent did not read them in time
}

// PortRange limits capture to UDP datagrams with a source or destination port in [Lo, Hi].
type PortRange struct{ Lo, Hi uint16 }

// ParsePortRange reads "LO-HI" or a single port; empty means every port.
func ParsePortRange(s string) (PortRange, error) {
	if s == "" {
		return PortRange{0, 0xffff}, nil
	}
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		hi = lo
	}
	l, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	h, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err1 != nil || err2 != nil || l > h {
		return PortRange{}, fmt.Errorf("%q is not a port range, want LOW-HIGH such as \"1024-65535\"", s)
	}
	return PortRange{uint16(l), uint16(h)}, nil
}

// LinkSpeed returns an interface's link speed in bytes per second, when the OS tells it.
func LinkSpeed(iface string) (int64, bool) { return linkSpeed(iface) }

// InterfaceAddrs returns the IP addresses of the named interfaces (every interface for "any"):
// the device's own addresses, which make a flow's local end unambiguous.
func InterfaceAddrs(names []string) ([]netip.Addr, error) {
	var ifaces []net.Interface
	if len(names) == 1 && names[0] == AnyInterface {
		all, err := net.Interfaces()
		if err != nil {
			return nil, fmt.Errorf("list interfaces: %w", err)
		}
		ifaces = all
	} else {
		for _, n := range names {
			i, err := net.InterfaceByName(n)
			if err != nil {
				return nil, fmt.Errorf("interface %q: %w", n, err)
			}
			ifaces = append(ifaces, *i)
		}
	}
	var out []netip.Addr
	for _, i := range ifaces {
		addrs, err := i.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", i.Name, err)
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				out = append(out, p.Addr().Unmap())
			}
		}
	}
	return out, nil
}

func readSysInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}
