package metrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/tdq-agent/tdq-agent/capture"
)

// Config is the metrics section of the agent's config file.
type Config struct {
	// Window is the span of arrival time over which the maximum loss rate is taken.
	Window time.Duration `yaml:"window"`
	// ClockRates maps dynamic payload types (96-127) to their RTP clock rate in Hz.
	ClockRates map[uint8]uint32 `yaml:"clock_rates"`
}

// DefaultConfig returns the defaults documented in configs/agent.yaml.
func DefaultConfig() Config { return Config{Window: 5 * time.Second} }

// Validate reports every problem with the section, naming the keys.
func (c *Config) Validate() error {
	var errs []error
	if c.Window < 100*time.Millisecond || c.Window > time.Hour {
		errs = append(errs, fmt.Errorf("metrics.window: %s is out of range, want a duration from 100ms to 1h such as \"5s\"", c.Window))
	}
	for pt, hz := range c.ClockRates {
		if pt < 96 || pt > 127 {
			errs = append(errs, fmt.Errorf("metrics.clock_rates: payload type %d is not dynamic, want 96-127 (static types use the RFC 3551 rate)", pt))
		}
		if hz < 1000 || hz > 1000000 {
			errs = append(errs, fmt.Errorf("metrics.clock_rates: %d Hz for payload type %d is out of range, want 1000-1000000", hz, pt))
		}
	}
	return errors.Join(errs...)
}

// Counters are per-packet events the engine counts instead of logging.
type Counters struct {
	RTP           uint64
	RTCP          uint64
	MalformedRTP  uint64
	RTCPErrors    uint64 // sub-packets that overran the datagram or did not parse
	SRTCP         uint64 // encrypted RTCP: only the clear header was used
	RTTSamples    uint64
	RTTSkipped    uint64 // LSR 0, no matching SR, negative or over 10 s
	AbsurdReports uint64 // report blocks left out by the sanity filter
	STUN          uint64
	STUNSamples   uint64 // binding responses matched to their request
	STUNAmbiguous uint64 // responses to a retransmitted request: no sample
}

// Engine holds every stream of one capture source. It belongs to that source's goroutine.
type Engine struct {
	cfg Config
	// streams is keyed by a 64-bit digest (SSRC and both ports) because hashing two
	// netip.AddrPorts per packet cost more than the rest of the update; streams whose digests
	// collide (same SSRC and ports, other addresses) are chained through Stream.next.
	streams  map[uint64]*Stream
	count    int
	senders  map[uint32]*srHistory // SRs seen, by sender SSRC
	reports  map[uint32]*Reports   // report blocks seen, by the SSRC they are about
	bySSRC   map[uint32]*Stream    // the first stream of each SSRC, for RTCP's sanity checks
	ssrcRefs map[uint32]int        // streams per SSRC: RTCP state goes with the last of them
	rrtrs    map[uint32]*srHistory // XR receiver reference times seen, by sender SSRC
	stun     stunTable
	counters Counters
	rtp      capture.RTPHeader // scratch, so the hot path does not allocate
	scratch  rtcpScratch
}

// NewEngine returns an empty engine.
func NewEngine(cfg Config) *Engine {
	return &Engine{
		cfg:      cfg,
		streams:  make(map[uint64]*Stream),
		senders:  make(map[uint32]*srHistory),
		reports:  make(map[uint32]*Reports),
		bySSRC:   make(map[uint32]*Stream),
		ssrcRefs: make(map[uint32]int),
		rrtrs:    make(map[uint32]*srHistory),
	}
}

// RTP feeds one RTP packet. It returns the packet's stream and whether this packet created it,
// or nil for a malformed packet. Steady state (a known stream) allocates nothing.
func (e *Engine) RTP(p *capture.Packet) (*Stream, bool) {
	h := &e.rtp
	if !capture.ParseRTP(p.Payload, h) {
		e.counters.MalformedRTP++
		return nil, false
	}
	e.counters.RTP++
	k := StreamKey{Src: p.Src, Dst: p.Dst, SSRC: h.SSRC}
	d := digest(&k)
	head := e.streams[d]
	for s := head; s != nil; s = s.next {
		if s.key == k {
			s.update(h, p.Time)
			return s, false
		}
	}
	s := newStream(k, h, p.Time, &e.cfg)
	s.next = head
	e.streams[d] = s
	e.count++
	if e.bySSRC[h.SSRC] == nil {
		e.bySSRC[h.SSRC] = s
	}
	e.ssrcRefs[h.SSRC]++
	return s, true
}

func digest(k *StreamKey) uint64 {
	return uint64(k.SSRC)<<32 | uint64(k.Src.Port())<<16 | uint64(k.Dst.Port())
}

// Stream returns the stream with key k, or nil.
func (e *Engine) Stream(k StreamKey) *Stream {
	for s := e.streams[digest(&k)]; s != nil; s = s.next {
		if s.key == k {
			return s
		}
	}
	return nil
}

// Remove forgets a stream and what RTCP said about its SSRC, once its call has been reported.
func (e *Engine) Remove(k StreamKey) {
	d := digest(&k)
	var prev *Stream
	for s := e.streams[d]; s != nil; prev, s = s, s.next {
		if s.key != k {
			continue
		}
		switch {
		case prev != nil:
			prev.next = s.next
		case s.next != nil:
			e.streams[d] = s.next
		default:
			delete(e.streams, d)
		}
		e.count--
		break
	}
	if e.bySSRC[k.SSRC] != nil && e.bySSRC[k.SSRC].key == k {
		delete(e.bySSRC, k.SSRC)
	}
	// RTCP state is kept by SSRC alone; another stream with the same SSRC (the device keeping
	// its SSRC when the media moves to another remote) still needs it.
	if e.ssrcRefs[k.SSRC]--; e.ssrcRefs[k.SSRC] <= 0 {
		delete(e.ssrcRefs, k.SSRC)
		delete(e.reports, k.SSRC)
		delete(e.senders, k.SSRC)
		delete(e.rrtrs, k.SSRC)
	} else if e.bySSRC[k.SSRC] == nil {
		e.bySSRC[k.SSRC] = e.anyStream(k.SSRC)
	}
}

// anyStream finds a remaining stream of ssrc; it runs when a call ends, not per packet.
func (e *Engine) anyStream(ssrc uint32) *Stream {
	for _, head := range e.streams {
		for s := head; s != nil; s = s.next {
			if s.key.SSRC == ssrc {
				return s
			}
		}
	}
	return nil
}

// Counters returns the engine's counters.
func (e *Engine) Counters() Counters { return e.counters }

// Streams returns how many streams the engine holds.
func (e *Engine) Streams() int { return e.count }
