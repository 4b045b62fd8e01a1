package ops

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" for none
	}{
		{"defaults", func(*Config) {}, ""},
		{"ipv6 loopback", func(c *Config) { c.Listen = "[::1]:9477" }, ""},
		{"other loopback", func(c *Config) { c.Listen = "127.0.0.2:9477" }, ""},
		{"off", func(c *Config) { c.Listen = "" }, ""},
		{"every interface", func(c *Config) { c.Listen = "0.0.0.0:9477" },
			`ops.listen: "0.0.0.0:9477" listens on every interface, want a loopback address such as "127.0.0.1:9477"`},
		{"every interface v6", func(c *Config) { c.Listen = "[::]:9477" }, `ops.listen: "[::]:9477" listens on every interface`},
		{"private address", func(c *Config) { c.Listen = "10.0.0.1:9477" },
			`ops.listen: 10.0.0.1 is not a loopback address, want one in 127.0.0.0/8 or ::1 such as "127.0.0.1:9477"`},
		{"host name", func(c *Config) { c.Listen = "localhost:9477" }, `ops.listen: "localhost:9477" is not an IP address and port`},
		{"no port", func(c *Config) { c.Listen = "127.0.0.1" }, `ops.listen: "127.0.0.1" is not an IP address and port`},
		{"port 0", func(c *Config) { c.Listen = "127.0.0.1:0" }, `ops.listen: "127.0.0.1:0" has port 0`},
		{"no token file", func(c *Config) { c.TokenFile = "" }, "ops.token_file: required"},
		{"bad mode", func(c *Config) { c.Identity = "demand" }, `ops.identity: "demand" is not "generate" or "require"`},
		{"require without listener", func(c *Config) { c.Identity, c.Listen = IdentityRequire, "" }, `ops.identity: "require" needs the control input`},
		{"wait too short", func(c *Config) { c.IdentityWait = 10 * time.Millisecond }, "ops.identity_wait: 10ms is out of range"},
		{"wait too long", func(c *Config) { c.IdentityWait = 48 * time.Hour }, "ops.identity_wait: 48h0m0s is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := enabledConfig()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateJoinsErrors(t *testing.T) {
	c := Config{Listen: "0.0.0.0:1", Identity: "x"}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	for _, key := range []string{"ops.listen:", "ops.token_file:", "ops.identity:", "ops.identity_wait:"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("Validate() = %v, want a message for %s", err, key)
		}
	}
}

func TestResolvePaths(t *testing.T) {
	c := enabledConfig()
	c.ResolvePaths(func(p string) string { return "/var/lib/tdq-agent/" + p })
	if c.TokenFile != "/var/lib/tdq-agent/control.token" {
		t.Errorf("TokenFile = %q", c.TokenFile)
	}
}

// enabledConfig is the default with the endpoints on, as the shipped service config has them.
func enabledConfig() Config {
	c := DefaultConfig()
	c.Listen = "127.0.0.1:9477"
	return c
}

// TestDefaultIsOff: without listen in the config no endpoint opens, so two agents on one host
// do not fight for a port.
func TestDefaultIsOff(t *testing.T) {
	c := DefaultConfig()
	if c.Listen != "" {
		t.Errorf("default listen %q, want off", c.Listen)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the default must validate: %v", err)
	}
}
