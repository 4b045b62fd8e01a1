// Package metrics keeps RFC 3550 statistics per RTP stream (sequence, loss, jitter) and per
// RTCP reportee (round trip, reported loss and jitter); it does no I/O and no logging.
package metrics
