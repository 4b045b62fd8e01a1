package ops

import (
	"fmt"
	"strconv"
	"strings"
)

// Dynamic RTP payload types (RFC 3551 §6): only these take their clock rate from SDP; a static
// type's rate is fixed by the RFC whatever an SDP says.
const (
	firstDynamicPT = 96
	lastDynamicPT  = 127
)

// clockRates reads the "a=rtpmap:PT NAME/RATE[/CHANNELS]" lines of an SDP (RFC 8866 §6.6) and
// returns the clock rate of each dynamic payload type. A payload type mapped to two different
// rates (possible in an SDP whose media sections are not bundled) is left out: which rate a
// channel uses cannot be told here, and the agent then infers it. A malformed rtpmap line is an
// error, so an application sending a broken SDP hears about it.
func clockRates(sdp string) (map[uint8]uint32, error) {
	rates := map[uint8]uint32{}
	conflict := map[uint8]bool{}
	for i, line := range strings.Split(sdp, "\n") {
		line = strings.TrimRight(line, "\r")
		rest, ok := strings.CutPrefix(line, "a=rtpmap:")
		if !ok {
			continue
		}
		pt, rate, err := parseRTPMap(rest)
		if err != nil {
			return nil, fmt.Errorf("sdp line %d %q: %w", i+1, line, err)
		}
		if pt < firstDynamicPT {
			continue
		}
		if old, seen := rates[pt]; seen && old != rate {
			conflict[pt] = true
		}
		rates[pt] = rate
	}
	for pt := range conflict {
		delete(rates, pt)
	}
	if len(rates) == 0 {
		return nil, nil
	}
	return rates, nil
}

// parseRTPMap parses "PT NAME/RATE[/PARAMS]".
func parseRTPMap(s string) (pt uint8, rate uint32, err error) {
	const want = `want "a=rtpmap:PT NAME/RATE" such as "a=rtpmap:111 opus/48000/2"`
	ptText, enc, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return 0, 0, fmt.Errorf("no encoding, %s", want)
	}
	n, err := strconv.ParseUint(ptText, 10, 8)
	if err != nil || n > lastDynamicPT {
		return 0, 0, fmt.Errorf("payload type %q is not 0 to 127, %s", ptText, want)
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 || parts[0] == "" {
		return 0, 0, fmt.Errorf("no clock rate, %s", want)
	}
	r, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || r == 0 {
		return 0, 0, fmt.Errorf("clock rate %q is not a positive integer, %s", parts[1], want)
	}
	return uint8(n), uint32(r), nil
}
