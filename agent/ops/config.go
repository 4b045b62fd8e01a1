package ops

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Identity modes (Config.Identity).
const (
	// IdentityGenerate gives a call without an announced identity stable generated GUIDs.
	IdentityGenerate = "generate"
	// IdentityRequire holds a call's record until its identity is announced, up to
	// Config.IdentityWait.
	IdentityRequire = "require"
)

// Config is the ops section of the agent's config file.
type Config struct {
	// Listen is the loopback address of the endpoints, "127.0.0.1:9477" by default; empty turns
	// them off (and with them the control input).
	Listen string `yaml:"listen"`
	// TokenFile holds the control input's bearer token; the agent creates it (owner-only) when
	// it does not exist. A relative path is resolved by the agent (ResolvePaths).
	TokenFile string `yaml:"token_file"`
	// Identity is IdentityGenerate (the default) or IdentityRequire.
	Identity string `yaml:"identity"`
	// IdentityWait bounds how long a record waits for its identity with IdentityRequire.
	IdentityWait time.Duration `yaml:"identity_wait"`
}

// DefaultConfig returns the defaults documented in configs/agent.yaml. The endpoints are off
// unless listen is set: two agents on one host (tests, a replay beside the service) would
// otherwise fight for the port; the shipped service config turns them on at 127.0.0.1:9477.
func DefaultConfig() Config {
	return Config{
		Listen:       "",
		TokenFile:    "control.token",
		Identity:     IdentityGenerate,
		IdentityWait: 2 * time.Minute,
	}
}

// Bounds of IdentityWait: announcements expire after a day, so waiting longer is pointless.
const (
	minIdentityWait = time.Second
	maxIdentityWait = 24 * time.Hour
)

// Validate reports every problem in the section, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	if c.Listen != "" {
		if _, err := loopbackAddrPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("ops.listen: %w", err))
		}
		if c.TokenFile == "" {
			errs = append(errs, errors.New("ops.token_file: required when ops.listen is set, want a path such as \"control.token\""))
		}
	}
	switch c.Identity {
	case IdentityGenerate:
	case IdentityRequire:
		if c.Listen == "" {
			errs = append(errs, errors.New(`ops.identity: "require" needs the control input, but ops.listen is empty`))
		}
	default:
		errs = append(errs, fmt.Errorf(`ops.identity: %q is not "generate" or "require"`, c.Identity))
	}
	if c.IdentityWait < minIdentityWait || c.IdentityWait > maxIdentityWait {
		errs = append(errs, fmt.Errorf("ops.identity_wait: %s is out of range, want a duration from 1s to 24h such as \"2m\"", c.IdentityWait))
	}
	return errors.Join(errs...)
}

// ResolvePaths rewrites the relative paths of the section with abs, e.g. against the agent's
// state folder; the agent calls it after loading.
func (c *Config) ResolvePaths(abs func(string) string) {
	if c.TokenFile != "" {
		c.TokenFile = abs(c.TokenFile)
	}
}

// loopbackAddrPort parses a listen address that must be a loopback IP and a non-zero port.
// Host names are refused: "localhost" may resolve to something else, and a listener on it
// would then be reachable from the network.
func loopbackAddrPort(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not an IP address and port, want a loopback address such as \"127.0.0.1:9477\" or \"[::1]:9477\"", s)
	}
	addr := ap.Addr().Unmap()
	switch {
	case addr.IsUnspecified():
		return netip.AddrPort{}, fmt.Errorf("%q listens on every interface, want a loopback address such as \"127.0.0.1:%d\": the control input must not be reachable from the network", s, ap.Port())
	case !addr.IsLoopback():
		return netip.AddrPort{}, fmt.Errorf("%s is not a loopback address, want one in 127.0.0.0/8 or ::1 such as \"127.0.0.1:%d\": the control input must not be reachable from the network", addr, ap.Port())
	case addr.Zone() != "":
		return netip.AddrPort{}, fmt.Errorf("%q has a zone, want a loopback address such as \"[::1]:%d\"", s, ap.Port())
	case ap.Port() == 0:
		return netip.AddrPort{}, fmt.Errorf("%q has port 0, want a fixed port such as \"%s\" so clients can find it", s, netip.AddrPortFrom(addr, 9477))
	}
	return ap, nil
}
