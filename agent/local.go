package agent

import (
	"net/netip"

	"github.com/tdq-agent/tdq-agent/capture"
)

// localizer decides which end of a flow is the device. Configured (or interface) addresses win;
// offline without them, a guess made from the whole capture decides per address pair.
type localizer struct {
	addrs map[netip.Addr]bool
	nets  []netip.Prefix // configured networks (wider than one address)
	pairs map[addrPair]netip.Addr
	seen  bool // a configured address took part in a stream
}

type addrPair struct{ a, b netip.Addr } // a < b

func makePair(x, y netip.Addr) addrPair {
	if y.Less(x) {
		x, y = y, x
	}
	return addrPair{x, y}
}

func newLocalizer(addrs []netip.Addr) *localizer {
	l := &localizer{addrs: make(map[netip.Addr]bool), pairs: make(map[addrPair]netip.Addr)}
	for _, a := range addrs {
		l.addrs[a.Unmap()] = true
	}
	return l
}

// newLocalizerNets knows the device by configured addresses and networks.
func newLocalizerNets(prefixes []netip.Prefix) *localizer {
	l := newLocalizer(nil)
	for _, p := range prefixes {
		if p.IsSingleIP() {
			l.addrs[p.Addr()] = true
		} else {
			l.nets = append(l.nets, p)
		}
	}
	return l
}

// isLocal reports whether a is one of the device's addresses or in one of its networks. It runs
// once per new stream, not per packet.
func (l *localizer) isLocal(a netip.Addr) bool {
	if l.addrs[a] {
		return true
	}
	for _, p := range l.nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// srcIsLocal reports whether src is the device's end of a src -> dst packet.
func (l *localizer) srcIsLocal(src, dst netip.Addr) bool {
	s, d := l.isLocal(src), l.isLocal(dst)
	l.seen = l.seen || s || d
	if s != d {
		return s
	}
	if g, ok := l.pairs[makePair(src, dst)]; ok {
		return g == src
	}
	// Nothing known: a capture on the device mostly shows what it receives.
	return false
}

// guessLocal decides, for each address pair with RTP in a capture, which address is the device.
// First the capture's own evidence: a host captures its outgoing datagrams before the NIC fills
// in the UDP checksum, so the side whose checksums are all wrong, facing a side whose checksums
// are right, is the capturing device. Then DESIGN §3's rule, extended to captures of several
// devices and to the capture's other traffic: the address with more UDP peers (the device, in a
// capture taken on it, talks to its signalling server and to every media peer). A tie goes to the private address; then, where RTP flows both ways, to the first
// sender (a capture taken on the device usually starts with its own packets; the lab captures
// do), and where it flows one way, to the receiver, so that its quality is measured as inbound.
func guessLocal(name string) (map[addrPair]netip.Addr, error) {
	src, err := capture.OpenFile(name)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	type pairInfo struct {
		firstSrc netip.Addr
		firstDst netip.Addr
		packets  int
		sent     map[netip.Addr]int // RTP packets, by sender
		bad      map[netip.Addr]int // of those, with a wrong UDP checksum
		good     map[netip.Addr]int
	}
	pairs := make(map[addrPair]*pairInfo)
	var order []addrPair
	peers := make(map[addrPair]bool) // every UDP address pair, media or not (SIP, DNS, ...)
	var p capture.Packet
	for {
		if err := src.Next(&p); err != nil {
			// At a corrupt record, guess from what was read; the replay reports the error.
			break
		}
		peers[makePair(p.Src.Addr(), p.Dst.Addr())] = true
		if p.Kind != capture.KindRTP {
			continue
		}
		k := makePair(p.Src.Addr(), p.Dst.Addr())
		pi := pairs[k]
		if pi == nil {
			pi = &pairInfo{firstSrc: p.Src.Addr(), firstDst: p.Dst.Addr(), sent: map[netip.Addr]int{}, bad: map[netip.Addr]int{}, good: map[netip.Addr]int{}}
			pairs[k] = pi
			order = append(order, k)
		}
		pi.packets++
		pi.sent[p.Src.Addr()]++
		switch capture.UDPChecksum(src.Frame()) {
		case capture.ChecksumBad:
			pi.bad[p.Src.Addr()]++
		case capture.ChecksumGood:
			pi.good[p.Src.Addr()]++
		}
	}
	// The capturing host is in every frame; its peers are many (signalling server, DNS, each
	// media peer), while a media peer usually talks only to it.
	degree := make(map[netip.Addr]int)
	for k := range peers {
		degree[k.a]++
		degree[k.b]++
	}
	out := make(map[addrPair]netip.Addr)
	for _, k := range order {
		pi := pairs[k]
		switch da, db := degree[k.a], degree[k.b]; {
		case offloaded(pi.bad, pi.good, k.a, k.b):
			out[k] = k.a
		case offloaded(pi.bad, pi.good, k.b, k.a):
			out[k] = k.b
		case da > db:
			out[k] = k.a
		case db > da:
			out[k] = k.b
		case k.a.IsPrivate() != k.b.IsPrivate():
			if k.a.IsPrivate() {
				out[k] = k.a
			} else {
				out[k] = k.b
			}
		case pi.sent[pi.firstDst] > 0:
			out[k] = pi.firstSrc
		default:
			out[k] = pi.firstDst
		}
	}
	return out, nil
}

// offloaded reports whether x sent only datagrams with unfinished checksums while y sent only
// correct ones: x is the host the capture was taken on.
func offloaded(bad, good map[netip.Addr]int, x, y netip.Addr) bool {
	return bad[x] > 0 && good[x] == 0 && good[y] > 0 && bad[y] == 0
}
