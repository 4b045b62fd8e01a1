package metrics

// jitter is the RFC 3550 A.8 interarrival jitter estimator, J += (|D| − J)/16, kept in seconds:
// each packet's timestamp step is converted with that packet's own clock rate, so a stream that
// switches payload type (PCMA to Opus, audio to RFC 4733 events) stays right across the switch.
type jitter struct {
	started bool
	lastArr int64  // arrival of the previous packet, ns
	lastTS  uint32 // RTP timestamp of the previous packet
	j       float64
	mean    float64 // Wireshark's running mean, see update
	n       uint64  // samples: regular packets from the second on
	max     float64
	packets uint64 // packets fed so far
	jumps   uint64 // transit steps over maxTransitJump, left out
}

// maxTransitJump bounds |D|, the change of transit time between consecutive packets, in seconds.
const maxTransitJump = 3.0

// update feeds one packet. clockHz is its payload type's clock rate, 0 when unknown: such a
// packet (an RFC 4733 event, typically) neither gives a difference nor becomes the reference,
// because an event packet carries the timestamp of the event's start, older than its arrival
// says; the next audio packet is measured against the last audio packet, as Wireshark does.
// regular says whether the resulting value is a sample for the mean and maximum; Wireshark
// leaves out marker packets and comfort noise and the packet after it, whose timestamps jump by
// design, and so do we so that the figures compare.
//
// The mean is Wireshark's running mean, mean = (mean·(k−1) + J)/k with k the number of packets
// before this one: over regular packets only it is the plain mean of the samples (DESIGN §4);
// where packets were left out it weighs later samples a little more, and we follow it so that
// the agent agrees with `tshark -z rtp,streams` on video and comfort-noise streams too.
func (s *jitter) update(arrival int64, ts uint32, clockHz float64, regular bool) {
	s.packets++
	if clockHz <= 0 {
		return
	}
	if !s.started {
		s.started = true
		s.lastArr, s.lastTS = arrival, ts
		return
	}
	{
		// The timestamp difference is signed 32-bit: a wrap or a step back stays small.
		d := float64(arrival-s.lastArr)*1e-9 - float64(int32(ts-s.lastTS))/clockHz
		if d < 0 {
			d = -d
		}
		if d > maxTransitJump {
			// A timestamp restart, or a sender that paused without advancing its clock: not
			// network jitter. Such a step would dominate the estimate for hundreds of packets
			// (libwebrtc likewise ignores jumps of 450000 samples, 5 s of video). The reference
			// moves on, so the next packet is measured against this one.
			s.jumps++
			s.lastArr, s.lastTS = arrival, ts
			return
		}
		s.j += (d - s.j) * (1.0 / 16)
		if regular {
			k := float64(s.packets - 1)
			s.mean = (s.mean*(k-1) + s.j) / k
			s.n++
			if s.j > s.max {
				s.max = s.j
			}
		}
	}
	s.lastArr, s.lastTS = arrival, ts
}
