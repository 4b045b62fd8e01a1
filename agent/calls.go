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
	activity      metrics.Activity  // both directions: mediaDuration
	in, out       []*metrics.Stream // every SSRC seen: in = remote to local, out = local to remote
}

// call is the channels to one remote host whose activity overlaps (DESIGN §3).
type call struct {
	remote   netip.Addr
	first    int64
	drops    uint64     // packets the capture dropped while the call was active
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
	gap      int64
	slots    []*channel // by Stream.Tag; freed slots are reused
	free     []uint32
	channels map[chanKey]*channel
	calls    map[netip.Addr]*call // calls in progress, by remote host
	order    []*call              // same calls, in order of start
}

func newTracker(l *localizer, mediaGap int64) *tracker {
	return &tracker{local: l, gap: mediaGap, channels: make(map[chanKey]*channel), calls: make(map[netip.Addr]*call)}
}

// channelOf is the per-packet lookup of a stream's channel.
func (t *tracker) channelOf(s *metrics.Stream) *channel { return t.slots[s.Tag] }

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
		ch = &channel{local: ck.local, remote: ck.remote, first: p.Time, activity: metrics.Activity{Gap: t.gap}}
		t.channels[ck] = ch
		ch.activity.Update(p.Time)
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
	s.Tag = t.slot(ch)
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
		for _, s := range append(ch.in[:len(ch.in):len(ch.in)], ch.out...) {
			if t.slots[s.Tag] == ch {
				t.slots[s.Tag] = nil
				t.free = append(t.free, s.Tag)
			}
		}
	}
}

// slot gives ch a slot for its streams' Tag; a channel takes one slot per stream, cheap enough
// and simpler than sharing.
func (t *tracker) slot(ch *channel) uint32 {
	if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		t.slots[i] = ch
		return i
	}
	t.slots = append(t.slots, ch)
	return uint32(len(t.slots) - 1)
}

// addDrops charges capture drops to every call in progress.
func (t *tracker) addDrops(n uint64) {
	for _, c := range t.order {
		c.drops += n
	}
}

// remove takes one call out of the table, for an explicit end.
func (t *tracker) remove(c *call) {
	for i, o := range t.order {
		if o == c {
			t.order = append(t.order[:i], t.order[i+1:]...)
			break
		}
	}
	t.forget(c)
}
