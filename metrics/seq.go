package metrics

// RFC 3550 A.1 constants.
const (
	seqMod       = 1 << 16
	maxDropout   = 3000
	maxMisorder  = 100
	minSequental = 2
)

// seqTracker is RFC 3550 A.1 with one deliberate change: the packets seen during probation count,
// from the first one. The RFC's code restarts the base at the packet that ends probation, so a
// receiver built on it (GStreamer, for one) reports one packet lost in a clean call, and packets
// lost between the first two that arrived vanish from the loss count. Probation still decides
// whether the stream is real (two packets in sequence); a forward jump smaller than maxDropout
// during probation is loss, not a new stream, and keeps the base.
type seqTracker struct {
	maxSeq    uint16
	cycles    uint32 // shifted count of sequence number wraps
	baseSeq   uint32
	badSeq    uint32
	probation int
	received  uint64
	probeBase uint16
	probeRecv uint64
	restarts  uint64
	// Totals of the sequence epochs before the last restart, so a restart keeps what arrived.
	priorExpected int64
	priorReceived uint64
}

func (s *seqTracker) init(seq uint16) {
	s.baseSeq = uint32(seq)
	s.maxSeq = seq
	s.badSeq = seqMod + 1
	s.cycles = 0
	s.received = 0
}

// start primes the tracker with the first packet of a stream.
func (s *seqTracker) start(seq uint16) {
	s.init(seq)
	s.maxSeq = seq
	s.probation = minSequental - 1
	s.probeBase = seq
	s.probeRecv = 1
}

// update takes the next packet's sequence number and marker bit and reports whether the packet
// counts.
func (s *seqTracker) update(seq uint16, marker bool) bool {
	udelta := seq - s.maxSeq
	if s.probation > 0 {
		if seq < s.maxSeq && udelta < maxDropout {
			// Forward across the wrap: the base stays at probeBase, so the cycle counts.
			s.cycles += seqMod
		}
		if seq == s.maxSeq+1 {
			s.probation--
			s.maxSeq = seq
			s.probeRecv++
			if s.probation == 0 {
				recv, cycles := s.probeRecv, s.cycles
				s.init(s.probeBase)
				s.maxSeq, s.cycles = seq, cycles
				s.received = recv
				return true
			}
			return false
		}
		if udelta == 0 || udelta >= maxDropout {
			// A copy, a step back or a big jump: start probation over from this packet.
			s.probeBase = seq
			s.probeRecv = 0
			s.cycles = 0
		}
		s.probation = minSequental - 1
		s.maxSeq = seq
		s.probeRecv++
		return false
	}
	switch {
	case udelta < maxDropout:
		if seq < s.maxSeq {
			s.cycles += seqMod
		}
		s.maxSeq = seq
	case uint32(udelta) <= seqMod-maxMisorder:
		// A very large jump: the sender restarted, unless it is a stray packet. Two in a row
		// (the second one following the first) confirm the restart, as in the RFC; so does the
		// marker bit, with which a sender announces a discontinuity (a new talkspurt after it
		// re-initialised). Unlike the RFC, the packet that first showed the jump counts too.
		switch {
		case marker:
			s.restart(seq, seq, 0)
		case uint32(seq) == s.badSeq:
			s.restart(seq-1, seq, 1)
		default:
			s.badSeq = uint32(seq+1) & (seqMod - 1)
			return false
		}
	default:
		// Late or reordered packet within the misorder window: counted, max unchanged.
	}
	s.received++
	return true
}

// restart closes the current sequence epoch and opens one based at base, whose highest sequence
// number so far is max, with already packets of it received before this one. The RFC drops the
// old epoch; we keep it in the totals, those packets did arrive.
func (s *seqTracker) restart(base, max uint16, already uint64) {
	s.restarts++
	s.priorExpected += int64(s.extMax()) - int64(s.baseSeq) + 1
	s.priorReceived += s.received
	s.init(base)
	s.maxSeq = max
	s.received = already
}

// valid reports whether the stream has passed probation.
func (s *seqTracker) valid() bool { return s.probation == 0 }

// extMax is the extended highest sequence number received.
func (s *seqTracker) extMax() uint32 { return s.cycles + uint32(s.maxSeq) }

// expected is RFC 3550 A.3, extended highest minus base plus one, summed over restarts.
func (s *seqTracker) expected() int64 {
	if !s.valid() {
		return 0
	}
	return s.priorExpected + int64(s.extMax()) - int64(s.baseSeq) + 1
}

// receivedTotal counts the packets that passed the tracker, over restarts.
func (s *seqTracker) receivedTotal() uint64 { return s.priorReceived + s.received }
