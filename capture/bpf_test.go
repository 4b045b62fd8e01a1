package capture

import (
	"testing"

	"golang.org/x/net/bpf"
)

// TestUDPFilter runs the kernel filter in x/net/bpf's VM on packets as a cooked socket sees
// them (from the IP header): UDP passes, everything else is dropped in the kernel, and with a
// port range only UDP with a source or destination port inside it passes.
func TestUDPFilter(t *testing.T) {
	ipv4 := func(proto byte, ihl int, sport, dport uint16) []byte {
		b := make([]byte, ihl*4+8)
		b[0] = 0x40 | byte(ihl) // version 4, IHL
		b[9] = proto
		u := b[ihl*4:]
		u[0], u[1], u[2], u[3] = byte(sport>>8), byte(sport), byte(dport>>8), byte(dport)
		return b
	}
	ipv6 := func(next byte, sport, dport uint16) []byte {
		b := make([]byte, 48)
		b[0] = 0x60
		b[6] = next
		b[40], b[41], b[42], b[43] = byte(sport>>8), byte(sport), byte(dport>>8), byte(dport)
		return b
	}
	arp := []byte{0x00, 0x01, 0x08, 0x00, 6, 4, 0, 1} // hardware type 1: version nibble 0
	cases := []struct {
		name   string
		lo, hi uint16
		pkt    []byte
		pass   bool
	}{
		{"IPv4 UDP", 0, 0xffff, ipv4(17, 5, 50000, 40100), true},
		{"IPv4 UDP with options", 0, 0xffff, ipv4(17, 6, 50000, 40100), true},
		{"IPv4 TCP", 0, 0xffff, ipv4(6, 5, 50000, 443), false},
		{"IPv4 ICMP", 0, 0xffff, ipv4(1, 5, 0, 0), false},
		{"IPv6 UDP", 0, 0xffff, ipv6(17, 50000, 40100), true},
		{"IPv6 TCP", 0, 0xffff, ipv6(6, 50000, 443), false},
		{"IPv6 fragment header", 0, 0xffff, ipv6(44, 0, 0), true},
		{"ARP", 0, 0xffff, arp, false},
		{"source port in range", 1024, 65535, ipv4(17, 5, 50000, 53), true},
		{"destination port in range", 1024, 65535, ipv4(17, 5, 53, 40100), true},
		{"neither port in range", 1024, 65535, ipv4(17, 5, 53, 123), false},
		{"IPv4 options shift the ports", 40000, 40200, ipv4(17, 7, 53, 40100), true},
		{"IPv6 ports in range", 40000, 40200, ipv6(17, 53, 40100), true},
		{"IPv6 ports out of range", 40000, 40200, ipv6(17, 53, 123), false},
		{"range edge", 40100, 40100, ipv4(17, 5, 53, 40100), true},
		{"just above", 40100, 40100, ipv4(17, 5, 53, 40101), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := udpFilter(4096, tc.lo, tc.hi)
			if err != nil {
				t.Fatal(err)
			}
			prog, ok := bpf.Disassemble(raw)
			if !ok {
				t.Fatal("the program does not disassemble")
			}
			vm, err := bpf.NewVM(prog)
			if err != nil {
				t.Fatal(err)
			}
			n, err := vm.Run(tc.pkt)
			if err != nil {
				t.Fatal(err)
			}
			if got := n > 0; got != tc.pass {
				t.Errorf("passed %v (returned %d), want %v", got, n, tc.pass)
			}
		})
	}
}

// TestParsePortRange accepts what the config documents and names the form it wants otherwise.
func TestParsePortRange(t *testing.T) {
	for in, want := range map[string]PortRange{"": {0, 65535}, "1024-65535": {1024, 65535}, "5004": {5004, 5004}, " 10 - 20 ": {10, 20}} {
		if got, err := ParsePortRange(in); err != nil || got != want {
			t.Errorf("ParsePortRange(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"x", "20-10", "1-70000", "-5"} {
		if _, err := ParsePortRange(bad); err == nil {
			t.Errorf("ParsePortRange(%q) accepted", bad)
		}
	}
}
