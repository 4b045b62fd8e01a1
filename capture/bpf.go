package capture

import (
	"golang.org/x/net/bpf"
)

// udpFilter is the classic BPF program for a cooked (SOCK_DGRAM) socket, where a packet starts
// at its IP header: it passes UDP over IPv4 and IPv6 (and IPv6 packets whose first header is an
// extension or fragment header, for the decoder to walk or count), optionally only when the
// source or destination port is within [lo, hi], and drops everything else in the kernel, so
// that TCP, ARP and the rest never reach user space.
func udpFilter(snaplen uint32, lo, hi uint16) ([]bpf.RawInstruction, error) {
	const (
		ipv6HopByHop = 0
		ipv6Routing  = 43
		ipv6Fragment = 44
		ipv6DestOpts = 60
	)
	accept := bpf.RetConstant{Val: snaplen}
	reject := bpf.RetConstant{Val: 0}
	ports := lo != 0 || hi != 0xffff
	// Build with symbolic jumps for clarity.
	type ins struct {
		i     bpf.Instruction
		label string
		t, f  string
	}
	code := []ins{
		{i: bpf.LoadAbsolute{Off: 0, Size: 1}},
		{i: bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4}},
		{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 4}, t: "v4", f: "v6?"},
		{label: "v6?", i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6}, t: "v6", f: "reject"},
		// IPv4: protocol at byte 9; the UDP header after IHL·4 bytes.
		{label: "v4", i: bpf.LoadAbsolute{Off: 9, Size: 1}},
		{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17}, t: "v4udp", f: "reject"},
		{label: "v4udp", i: bpf.LoadMemShift{Off: 0}}, // X = IHL·4
		{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0}, t: "ports", f: "ports"},
		// IPv6: next header at byte 6; UDP right after the 40-byte header.
		{label: "v6", i: bpf.LoadAbsolute{Off: 6, Size: 1}},
		{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17}, t: "v6udp", f: "v6ext0"},
		{label: "v6ext0", i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: ipv6HopByHop}, t: "accept", f: "v6ext1"},
		{label: "v6ext1", i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: ipv6Routing}, t: "accept", f: "v6ext2"},
		{label: "v6ext2", i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: ipv6Fragment}, t: "accept", f: "v6ext3"},
		{label: "v6ext3", i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: ipv6DestOpts}, t: "accept", f: "reject"},
		{label: "v6udp", i: bpf.LoadConstant{Dst: bpf.RegX, Val: 40}},
		// X points at the UDP header: source port at X+0, destination port at X+2.
		{label: "ports", i: bpf.LoadIndirect{Off: 0, Size: 2}},
		{i: bpf.JumpIf{Cond: bpf.JumpLessThan, Val: uint32(lo)}, t: "dport", f: "shi"},
		{label: "shi", i: bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: uint32(hi)}, t: "dport", f: "accept"},
		{label: "dport", i: bpf.LoadIndirect{Off: 2, Size: 2}},
		{i: bpf.JumpIf{Cond: bpf.JumpLessThan, Val: uint32(lo)}, t: "reject", f: "dhi"},
		{label: "dhi", i: bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: uint32(hi)}, t: "reject", f: "accept"},
		{label: "accept", i: accept},
		{label: "reject", i: reject},
	}
	if !ports {
		// Without a port range every UDP datagram passes: "ports" becomes accept.
		for k := range code {
			if code[k].label == "ports" {
				code[k].i = accept
			}
		}
	}
	at := map[string]int{}
	for k, c := range code {
		if c.label != "" {
			at[c.label] = k
		}
	}
	out := make([]bpf.Instruction, len(code))
	for k, c := range code {
		out[k] = c.i
		if j, ok := c.i.(bpf.JumpIf); ok && (c.t != "" || c.f != "") {
			j.SkipTrue = uint8(at[c.t] - k - 1)
			j.SkipFalse = uint8(at[c.f] - k - 1)
			out[k] = j
		}
	}
	return bpf.Assemble(out)
}
