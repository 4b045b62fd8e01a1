package capture

import (
	"errors"
	"fmt"
	"net/netip"
)

// Config is the capture section of the agent's config file.
type Config struct {
	// Files are pcap/pcapng files replayed in order instead of a live capture.
	Files []string `yaml:"files"`
	// ReplaySpeed paces file replay: 1 is as recorded, 2 twice as fast, 0 as fast as possible.
	ReplaySpeed float64 `yaml:"replay_speed"`
	// Local lists the device's own IP addresses. Empty: taken from the interfaces when live,
	// guessed from the traffic when replaying files.
	Local []string `yaml:"local"`
	// Interfaces are captured live, each by its own goroutine; "any" is every interface.
	Interfaces []string `yaml:"interfaces"`
	// Ports limits live capture to UDP with a source or destination port in this range
	// ("1024-65535"); empty is every port. The kernel filters, so the rest costs nothing.
	Ports string `yaml:"ports"`
	// Promiscuous also captures traffic not addressed to the device (a mirror port); the
	// device's own calls need it off.
	Promiscuous bool `yaml:"promiscuous"`
}

// Validate reports every problem with the section, naming the keys.
func (c *Config) Validate() error {
	var errs []error
	if c.ReplaySpeed != 0 && (c.ReplaySpeed < 0.01 || c.ReplaySpeed > 1000) {
		errs = append(errs, fmt.Errorf("capture.replay_speed: %g is out of range, want 0 (as fast as possible) or a factor from 0.01 to 1000", c.ReplaySpeed))
	}
	for i, f := range c.Files {
		if f == "" {
			errs = append(errs, fmt.Errorf("capture.files[%d]: empty path, want a pcap or pcapng file", i))
		}
	}
	if _, err := c.LocalAddrs(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Files) > 0 && len(c.Interfaces) > 0 {
		errs = append(errs, fmt.Errorf("capture.interfaces: set either capture.files (replay) or capture.interfaces (live), not both"))
	}
	for i, name := range c.Interfaces {
		if name == "" || (name == AnyInterface && len(c.Interfaces) > 1) {
			errs = append(errs, fmt.Errorf("capture.interfaces[%d]: want an interface name, or \"any\" alone", i))
		}
	}
	if _, err := ParsePortRange(c.Ports); err != nil {
		errs = append(errs, fmt.Errorf("capture.ports: %w", err))
	}
	return errors.Join(errs...)
}

// LocalAddrs parses Local: addresses ("10.20.0.10") and networks ("10.20.0.0/24"), an address
// being the network of itself alone.
func (c *Config) LocalAddrs() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range c.Local {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-(p.Addr().BitLen()-p.Addr().Unmap().BitLen())).Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("capture.local[%d]: %q is not an IP address or network, want e.g. 10.20.0.10, 10.20.0.0/24 or fe80::1", i, s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
