package metrics

// lossWindow tracks loss per fixed window of arrival time, anchored at the stream's first packet,
// for the record's maximum inbound loss rate.
type lossWindow struct {
	size      int64 // ns; 0 disables windows
	end       int64 // arrival time that closes the current window
	expStart  int64 // expected count when the window opened
	recvStart uint64
	max       float64
	windows   int
}

func (w *lossWindow) start(arrival int64) {
	if w.size > 0 {
		w.end = arrival + w.size
	}
}

func (w *lossWindow) update(arrival int64, s *seqTracker) {
	if w.size == 0 || arrival < w.end {
		return
	}
	// Called before the tracker sees this packet, which opens the next window.
	w.close(s.expected(), s.receivedTotal())
	// The first window end after this packet, in one step however long the silence was.
	w.end += ((arrival-w.end)/w.size + 1) * w.size
}

func (w *lossWindow) close(exp int64, recv uint64) {
	e := exp - w.expStart
	r := int64(recv - w.recvStart)
	w.expStart, w.recvStart = exp, recv
	if e <= 0 {
		return
	}
	w.windows++
	lost := e - r
	if lost < 0 {
		lost = 0
	}
	if pct := 100 * float64(lost) / float64(e); pct > w.max {
		w.max = pct
	}
}

// result closes the window in progress (a copy, so the stream can go on) and returns the max.
func (w *lossWindow) result(s *seqTracker) (float64, int) {
	c := *w
	if c.size > 0 && s.valid() {
		c.close(s.expected(), s.receivedTotal())
	}
	return c.max, c.windows
}
