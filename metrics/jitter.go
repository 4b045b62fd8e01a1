package metrics

// jitter is the RFC 3550 A.8 interarrival jitter estimator, kept in RTP timestamp units as a
// float so that sub-unit values survive (RTCP rounds them to integers; we report seconds).
type jitter struct {
	started  bool
	lastArr  int64  // arrival of the previous packet, ns
	lastTS   uint32 // RTP timestamp of the previous packet
	j        float64
	sum      float64 // sum of j after each packet from the second on
	n        uint64  // number of those samples
	max      float64
	clockHz  float64
	clockSet bool
}

// update feeds one packet. Arrival spacing is converted to timestamp units with the float clock
// rate; the timestamp difference is a signed 32-bit value so a wrap or a step back is right.
func (s *jitter) update(arrival int64, ts uint32) {
	if !s.clockSet {
		return
	}
	if !s.started {
		s.started = true
		s.lastArr, s.lastTS = arrival, ts
		return
	}
	d := float64(arrival-s.lastArr)*s.clockHz/1e9 - float64(int32(ts-s.lastTS))
	s.lastArr, s.lastTS = arrival, ts
	if d < 0 {
		d = -d
	}
	s.j += (d - s.j) / 16
	s.sum += s.j
	s.n++
	if s.j > s.max {
		s.max = s.j
	}
}

// Seconds converts a value in timestamp units to seconds.
func (s *jitter) seconds(units float64) float64 { return units / s.clockHz }
