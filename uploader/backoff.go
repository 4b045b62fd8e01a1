package uploader

import "time"

// backoff spaces retries with exponential backoff and full jitter, with RetryMin as a floor so
// a fleet of devices that lost Graph at the same moment neither retries in lockstep nor hammers
// Graph with sub-second retries.
type backoff struct {
	min, max time.Duration
	rand     func() float64 // uniform in [0, 1); injectable so tests can assert exact delays
}

// delay returns how long to wait after the attempt-th failed attempt (1 for the first failure):
// uniform in [min, ceil) with ceil = min·2^attempt capped at max, or retryAfter when the server
// asked for longer.
func (b backoff) delay(attempt int, retryAfter time.Duration) time.Duration {
	ceil := b.min
	for i := 0; i < attempt && ceil < b.max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, b.max)
	d := b.min + time.Duration(b.rand()*float64(ceil-b.min))
	return max(d, retryAfter)
}
