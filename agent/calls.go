package agent

import (
	"net/netip"

	"github.com/tdq-agent/tdq-agent/capture"
	"github.com/tdq-agent/tdq-agent/metrics"
)

// channel is one bidirectional media session between a local and a remote transport address.
type channel struct {
	local, remote netip.AddrPort
	first         int64
	in, out       []*metrics.Stream // every SSRC seen: in = remote to local, out = local to remote
}

// call is the channels to one remote host whose activity overlaps (DESIGN §3).
type call struct {
	remote   netip.Addr
	first    int64
	channels []*channel // in order of first packet: channelIndex = position + 1
}

func (c *call) last() int64 {
	var t int64
	for _, ch := range c.channels {
		for _, s := range ch.in {
			t = max(t, s.Last())
		}
		for _, s := range ch.out {
			t = max(t, s.Last())
		}
	}
	return t
}

type chanKey struct{ local, remote netip.AddrPort }

// tracker owns the flow table of one source: which stream belongs to which channel and call.
type tracker struct {
	local    *localizer
	channels map[chanKey]*channel
	calls    map[netip.Addr]*call // calls in progress, by remote host
	order    []*call              // same calls, in order of start
}

func newTracker(l *localizer) *tracker {
	return &tracker{local: l, channels: make(map[chanKey]*channel), calls: make(map[netip.Addr]*call)}
}

// addStream files a new stream under its channel and call. It runs once per stream, not per
// packet, so it may allocate.
func (t *tracker) addStream(s *metrics.Stream, p *capture.Packet) {
	k := s.Key()
	fromLocal := t.local.srcIsLocal(k.Src.Addr(), k.Dst.Addr())
	ck := chanKey{local: k.Dst, remote: k.Src}
	if fromLocal {
		ck = chanKey{local: k.Src, remote: k.Dst}
	}
	ch := t.channels[ck]
	if ch == nil {
		ch = &channel{local: ck.local, remote: ck.remote, first: p.Time}
		t.channels[ck] = ch
		c := t.calls[ck.remote.Addr()]
		if c == nil {
			c = &call{remote: ck.remote.Addr(), first: p.Time}
			t.calls[c.remote] = c
			t.order = append(t.order, c)
		}
		c.channels = append(c.channels, ch)
	}
	if fromLocal {
		ch.out = append(ch.out, s)
	} else {
		ch.in = append(ch.in, s)
	}
}

// endIdle removes and returns the calls with no packet for longer than idle before now.
func (t *tracker) endIdle(now, idle int64) []*call {
	var ended []*call
	kept := t.order[:0]
	for _, c := range t.order {
		if now-c.last() > idle {
			ended = append(ended, c)
			t.forget(c)
		} else {
			kept = append(kept, c)
		}
	}
	clear(t.order[len(kept):])
	t.order = kept
	return ended
}

// endAll removes and returns every call, oldest first.
func (t *tracker) endAll() []*call {
	ended := t.order
	for _, c := range ended {
		t.forget(c)
	}
	t.order = nil
	return ended
}

func (t *tracker) forget(c *call) {
	delete(t.calls, c.remote)
	for _, ch := range c.channels {
		delete(t.channels, chanKey{local: ch.local, remote: ch.remote})
	}
}
