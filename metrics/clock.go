package metrics

// ClockSource says where a stream's RTP clock rate came from; operators see it in the call log.
type ClockSource uint8

// Clock rate sources.
const (
	ClockUnknown  ClockSource = iota // dynamic payload type with no configured rate: jitter is not measured
	ClockStatic                      // RFC 3551 static payload type table
	ClockConfig                      // metrics.clock_rates in the config
	ClockInferred                    // measured from timestamp steps against arrival spacing
	ClockSDP                         // signalled for the call (SDP a=rtpmap through the control input)
)

func (c ClockSource) String() string {
	switch c {
	case ClockStatic:
		return "static"
	case ClockConfig:
		return "config"
	case ClockInferred:
		return "inferred"
	case ClockSDP:
		return "sdp"
	}
	return "unknown"
}

// staticClock is RFC 3551 §6, tables 4 and 5. G.722 (9) is 8000 Hz by that RFC's own erratum-like
// note, even though the codec samples at 16 kHz; peers follow the table, so must we.
var staticClock = [35]uint32{
	0: 8000, 3: 8000, 4: 8000, 5: 8000, 6: 16000, 7: 8000, 8: 8000, 9: 8000,
	10: 44100, 11: 44100, 12: 8000, 13: 8000, 14: 90000, 15: 8000, 16: 11025,
	17: 22050, 18: 8000, 25: 90000, 26: 90000, 28: 90000, 31: 90000, 32: 90000,
	33: 90000, 34: 90000,
}

// clockRate returns the clock for a payload type: static types from RFC 3551 (never guessed),
// dynamic ones from the configured table.
func clockRate(pt uint8, configured map[uint8]uint32) (uint32, ClockSource) {
	if int(pt) < len(staticClock) && staticClock[pt] != 0 {
		return staticClock[pt], ClockStatic
	}
	if pt >= 96 {
		if r, ok := configured[pt]; ok && r > 0 {
			return r, ClockConfig
		}
	}
	return 0, ClockUnknown
}
