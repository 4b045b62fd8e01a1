package metrics

import "testing"

// TestSeqTracker walks RFC 3550 A.1 (with the probation variant documented on seqTracker) by
// hand. expected is A.3's extended highest − base + 1 summed over restarts; lost = expected −
// received.
func TestSeqTracker(t *testing.T) {
	tests := []struct {
		name     string
		seqs     []uint16
		markers  []bool // marker bit of seqs[1:], false where absent
		counted  []bool // update's answer for seqs[1:]
		valid    bool
		base     uint32
		cycles   uint32
		extMax   uint32
		expected int64
		received uint64
		restarts uint64
	}{
		{name: "first packet alone is on probation", seqs: []uint16{100},
			valid: false, base: 100, extMax: 100, expected: 0, received: 0},
		// Probation ends at the 2nd packet in sequence; both count, base is the first:
		// expected = 101 - 100 + 1 = 2.
		{name: "in-order start", seqs: []uint16{100, 101}, counted: []bool{true},
			valid: true, base: 100, extMax: 101, expected: 2, received: 2},
		{name: "in-order run", seqs: []uint16{100, 101, 102, 103, 104}, counted: []bool{true, true, true, true},
			valid: true, base: 100, extMax: 104, expected: 5, received: 5},
		// 423 is 23 ahead of 400 (< MAX_DROPOUT): loss, not a new stream. 424 follows 423 and
		// ends probation with the base kept: expected = 424 - 400 + 1 = 25, received 3, lost 22.
		{name: "forward gap during probation keeps the base", seqs: []uint16{400, 423, 424}, counted: []bool{false, true},
			valid: true, base: 400, extMax: 424, expected: 25, received: 3},
		// A copy restarts probation from itself: base 100, then 101 ends it. 2 expected,
		// 2 received (the copy is not counted twice).
		{name: "copy during probation", seqs: []uint16{100, 100, 101}, counted: []bool{false, true},
			valid: true, base: 100, extMax: 101, expected: 2, received: 2},
		// 5000 is 4900 ahead (>= MAX_DROPOUT): a new start, base 5000.
		{name: "big jump during probation starts over", seqs: []uint16{100, 5000, 5001}, counted: []bool{false, true},
			valid: true, base: 5000, extMax: 5001, expected: 2, received: 2},
		// 99 - 100 = 65535 mod 2^16: a step back restarts probation at 99.
		{name: "step back during probation starts over", seqs: []uint16{100, 99, 100}, counted: []bool{false, true},
			valid: true, base: 99, extMax: 100, expected: 2, received: 2},
		// Probation ends across the wrap: 0 follows 65535. The base stays 65535, so the wrap
		// must be a cycle: extMax = 65536 + 1, expected = 65537 - 65535 + 1 = 3.
		{name: "wrap during probation", seqs: []uint16{65535, 0, 1}, counted: []bool{true, true},
			valid: true, base: 65535, cycles: 65536, extMax: 65537, expected: 3, received: 3},
		// A forward gap across the wrap during probation: 5 - 65530 = 11 mod 2^16 (loss).
		// extMax = 65536 + 6, expected = 65542 - 65530 + 1 = 13, received 3, lost 10.
		{name: "forward gap across the wrap during probation", seqs: []uint16{65530, 5, 6}, counted: []bool{false, true},
			valid: true, base: 65530, cycles: 65536, extMax: 65542, expected: 13, received: 3},
		// Probation starts over after a wrap it had counted: a gap across the wrap (65534 -> 1,
		// 3 ahead), then a big jump (60000 - 1 = 59999 >= MAX_DROPOUT) restarts it at 60000, and
		// 60001 ends it: base 60000, no cycle. expected = 60001 - 60000 + 1 = 2.
		{name: "probation restart forgets a wrap", seqs: []uint16{65534, 1, 60000, 60001}, counted: []bool{false, false, true},
			valid: true, base: 60000, cycles: 0, extMax: 60001, expected: 2, received: 2},
		{name: "forward gap after probation", seqs: []uint16{100, 101, 110}, counted: []bool{true, true},
			valid: true, base: 100, extMax: 110, expected: 11, received: 3},
		// 0 after 65535: udelta = 1, seq < max_seq, so cycles += 2^16. extMax = 65536 + 1,
		// expected = 65537 - 65534 + 1 = 4.
		{name: "wrap", seqs: []uint16{65534, 65535, 0, 1}, counted: []bool{true, true, true},
			valid: true, base: 65534, cycles: 65536, extMax: 65537, expected: 4, received: 4},
		// 1 arrives before 0: 1 wraps (cycles once), then 0 is 65535 behind max_seq 1, inside
		// MAX_MISORDER of a full cycle, so it is a late packet of the previous cycle: counted,
		// max unchanged, no second wrap. extMax = 65536 + 2, expected = 65538 - 65534 + 1 = 5.
		{name: "reordered across the wrap", seqs: []uint16{65534, 65535, 1, 0, 2}, counted: []bool{true, true, true, true},
			valid: true, base: 65534, cycles: 65536, extMax: 65538, expected: 5, received: 5},
		// 12 arrives after 14: 12 - 14 = 65534 > 2^16 - MAX_MISORDER, late: counted, max 14.
		{name: "late packet within misorder", seqs: []uint16{10, 11, 13, 14, 12}, counted: []bool{true, true, true, true},
			valid: true, base: 10, extMax: 14, expected: 5, received: 5},
		// 852 is 150 behind 1002: beyond MAX_MISORDER (100), so a large jump, dropped as stray.
		{name: "packet later than misorder is a stray", seqs: []uint16{1000, 1001, 1002, 852}, counted: []bool{true, true, false},
			valid: true, base: 1000, extMax: 1002, expected: 3, received: 3},
		// 10000 - 102 = 9898 > MAX_DROPOUT once: a stray, not counted; 103 goes on.
		{name: "big jump once is a stray", seqs: []uint16{100, 101, 102, 10000, 103}, counted: []bool{true, true, false, true},
			valid: true, base: 100, extMax: 103, expected: 4, received: 4},
		// 10000 sets bad_seq = 10001; 10001 confirms the restart. The earlier epoch keeps its
		// 102 - 100 + 1 = 3 expected and 3 received; the new one starts at 10000, the packet
		// that showed the jump (A.1 would start at 10001 and lose 10000 from both counts):
		// 10002 - 10000 + 1 = 3 expected, 3 received. Totals 3 + 3 = 6 and 6.
		{name: "big jump twice restarts", seqs: []uint16{100, 101, 102, 10000, 10001, 10002},
			counted: []bool{true, true, false, true, true}, valid: true,
			base: 10000, extMax: 10002, expected: 6, received: 6, restarts: 1},
		// Backwards: 100 - 5001 = 60635 mod 2^16, a large jump; 101 confirms.
		// 2 (5000-5001) + 2 (100-101) = 4.
		{name: "sender restart going backwards", seqs: []uint16{5000, 5001, 100, 101}, counted: []bool{true, false, true},
			valid: true, base: 100, extMax: 101, expected: 4, received: 4, restarts: 1},
		// With the marker bit the sender announces the discontinuity: the jump restarts at once,
		// the packet counts. 3 (100-102) + 2 (10000-10001) = 5; negative markers below.
		{name: "big jump with marker restarts at once", seqs: []uint16{100, 101, 102, 10000, 10001},
			markers: []bool{false, false, true, false}, counted: []bool{true, true, true, true}, valid: true,
			base: 10000, extMax: 10001, expected: 5, received: 5, restarts: 1},
		// A lone stray with the marker bit restarts too, and the old sequence coming back is
		// then a second restart confirmed by two packets: 2 (100-101) + 1 (10000) + 2 (102-103).
		{name: "stray with marker costs a restart back", seqs: []uint16{100, 101, 10000, 102, 103},
			markers: []bool{false, true, false, false}, counted: []bool{true, true, false, true}, valid: true,
			base: 102, extMax: 103, expected: 5, received: 5, restarts: 2},
		// The tracker alone cannot tell a copy from a late packet: 11 twice makes received 4
		// against expected 3. Stream.isDuplicate catches exact copies before they get here.
		{name: "copy reaches the tracker", seqs: []uint16{10, 11, 11, 12}, counted: []bool{true, true, true},
			valid: true, base: 10, extMax: 12, expected: 3, received: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr seqTracker
			tr.start(tc.seqs[0])
			for i, seq := range tc.seqs[1:] {
				marker := i < len(tc.markers) && tc.markers[i]
				if got := tr.update(seq, marker); i < len(tc.counted) && got != tc.counted[i] {
					t.Errorf("update(%d) = %v, want %v", seq, got, tc.counted[i])
				}
			}
			if tr.valid() != tc.valid {
				t.Errorf("valid = %v, want %v", tr.valid(), tc.valid)
			}
			if tr.baseSeq != tc.base || tr.cycles != tc.cycles || tr.extMax() != tc.extMax {
				t.Errorf("base %d, cycles %d, extMax %d; want %d, %d, %d", tr.baseSeq, tr.cycles, tr.extMax(), tc.base, tc.cycles, tc.extMax)
			}
			if tr.expected() != tc.expected || tr.receivedTotal() != tc.received || tr.restarts != tc.restarts {
				t.Errorf("expected %d, received %d, restarts %d; want %d, %d, %d",
					tr.expected(), tr.receivedTotal(), tr.restarts, tc.expected, tc.received, tc.restarts)
			}
		})
	}
}

// TestStreamLossAndDuplicates goes through Engine.RTP, where exact copies (same sequence number
// and timestamp) are caught before the tracker and never make the loss negative.
func TestStreamLossAndDuplicates(t *testing.T) {
	type pkt struct {
		seq uint16
		ts  uint32
	}
	tests := []struct {
		name                string
		pkts                []pkt
		packets, duplicates uint64
		expected, lost      int64
	}{
		{"exact copy", []pkt{{10, 0}, {11, 160}, {11, 160}, {12, 320}}, 3, 1, 3, 0},
		{"exact copy during probation", []pkt{{10, 0}, {10, 0}, {11, 160}}, 2, 1, 2, 0},
		{"copy of the first packet after more", []pkt{{10, 0}, {11, 160}, {12, 320}, {10, 0}}, 3, 1, 3, 0},
		{"every packet twice", []pkt{{1, 0}, {1, 0}, {2, 160}, {2, 160}, {3, 320}, {3, 320}}, 3, 3, 3, 0},
		// 10, 11, 13: expected 13 - 10 + 1 = 4, received 3, lost 1; the copy of 13 changes
		// nothing.
		{"loss and a copy", []pkt{{10, 0}, {11, 160}, {13, 480}, {13, 480}}, 3, 1, 4, 1},
		// Same sequence number, another timestamp: not an exact copy, so it counts as a
		// packet and the signed loss goes to -1 (the record clamps it at zero).
		{"same seq other timestamp", []pkt{{10, 0}, {11, 160}, {11, 999}, {12, 320}}, 4, 0, 3, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(DefaultConfig())
			var st *Stream
			for i, p := range tc.pkts {
				s, created := e.RTP(rtpPkt(t0+int64(i)*20*ms, p.seq, p.ts, 8, false))
				if s == nil || created != (i == 0) {
					t.Fatalf("packet %d: stream %v, created %v", i, s, created)
				}
				st = s
			}
			got := st.Stats()
			if got.Packets != tc.packets || got.Duplicates != tc.duplicates || got.Expected != tc.expected || got.Lost != tc.lost {
				t.Errorf("packets %d, duplicates %d, expected %d, lost %d; want %d, %d, %d, %d",
					got.Packets, got.Duplicates, got.Expected, got.Lost, tc.packets, tc.duplicates, tc.expected, tc.lost)
			}
			if !got.Valid {
				t.Error("stream not valid")
			}
		})
	}
}

// TestStreamRestartKeepsEpochs checks the restart through Engine.RTP: a sender that restarts its
// sequence numbers keeps what arrived before in the totals.
func TestStreamRestartKeepsEpochs(t *testing.T) {
	e := NewEngine(DefaultConfig())
	seqs := []uint16{100, 101, 102, 30000, 30001, 30002, 30004}
	var st *Stream
	for i, seq := range seqs {
		st, _ = e.RTP(rtpPkt(t0+int64(i)*20*ms, seq, uint32(i)*160, 8, false))
	}
	got := st.Stats()
	// Epoch 1: 100..102, 3 expected, 3 received. 30000 arms the restart and 30001 confirms
	// it; the new epoch starts at 30000: 30000..30004, 5 expected, 4 received (30003 lost).
	// Totals: 8 expected, 7 received, 1 lost; all 7 packets counted.
	if got.Expected != 8 || got.Lost != 1 || got.Restarts != 1 || got.Packets != 7 {
		t.Errorf("expected %d, lost %d, restarts %d, packets %d; want 8, 1, 1, 7", got.Expected, got.Lost, got.Restarts, got.Packets)
	}
}
