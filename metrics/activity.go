package metrics

// Activity sums the active periods of a flow of packets: a silence longer than Gap closes a
// period. It expects arrival times in order, as a capture delivers them.
type Activity struct {
	Gap    int64 // ns
	start  int64
	last   int64
	active int64
}

// Update records a packet arriving at t (ns).
func (a *Activity) Update(t int64) {
	switch {
	case a.start == 0:
		a.start, a.last = t, t
	case t-a.last > a.Gap:
		a.active += a.last - a.start
		a.start, a.last = t, t
	case t > a.last:
		a.last = t
	}
}

// Total is the sum of the active periods so far, ns.
func (a *Activity) Total() int64 { return a.active + a.last - a.start }
