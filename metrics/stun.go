package metrics

import (
	"encoding/binary"
	"net/netip"

	"github.com/tdq-agent/tdq-agent/capture"
)

// STUN (RFC 8489) message classes of a Binding transaction: ICE connectivity checks (RFC 8445)
// and consent freshness (RFC 7675) send one every few seconds on the media 5-tuple itself.
const (
	stunBindingRequest = 0x0001
	stunBindingSuccess = 0x0101
	stunBindingError   = 0x0111
)

// stunPending is how many unanswered requests are remembered; older ones are forgotten.
const stunPending = 64

type stunRequest struct {
	txid     [12]byte
	src, dst netip.AddrPort
	at       int64
	resent   bool // retransmitted: a response cannot tell which copy it answers
}

// stunTable matches Binding responses to requests by transaction ID. Teams and WebRTC encrypt
// RTCP, so these round trips are the only ones a passive observer gets from such calls.
type stunTable struct {
	ring    [stunPending]stunRequest
	next    int
	samples map[[2]netip.AddrPort]*RTTStats // by (requester, responder)
}

// STUN feeds one STUN message. A response on the reversed 5-tuple of a remembered request, with
// its transaction ID, gives a round trip: the requester's view, network both ways plus the
// responder's (tiny) turnaround.
func (e *Engine) STUN(p *capture.Packet) {
	b := p.Payload
	if len(b) < 20 {
		return
	}
	e.counters.STUN++
	t := &e.stun
	typ := binary.BigEndian.Uint16(b[0:2])
	var txid [12]byte
	copy(txid[:], b[8:20])
	switch typ {
	case stunBindingRequest:
		// A retransmission keeps its transaction ID (RFC 8489 §6.2.1). As in Karn's algorithm
		// for TCP, a transaction sent more than once gives no sample: timing it from the first
		// copy counts the retransmission timeout as network delay, from the last may time a
		// response to an earlier copy.
		for i := range t.ring {
			if r := &t.ring[i]; r.at != 0 && r.txid == txid && r.src == p.Src && r.dst == p.Dst {
				r.resent = true
				return
			}
		}
		t.ring[t.next] = stunRequest{txid: txid, src: p.Src, dst: p.Dst, at: p.Time}
		t.next = (t.next + 1) % stunPending
	case stunBindingSuccess, stunBindingError:
		for i := range t.ring {
			r := &t.ring[i]
			if r.at == 0 || r.txid != txid || r.src != p.Dst || r.dst != p.Src {
				continue
			}
			if r.resent {
				e.counters.STUNAmbiguous++
			} else if d := p.Time - r.at; d >= 0 && d <= maxRTT {
				k := [2]netip.AddrPort{r.src, r.dst}
				s := t.samples[k]
				if s == nil {
					if t.samples == nil {
						t.samples = make(map[[2]netip.AddrPort]*RTTStats)
					}
					s = &RTTStats{}
					t.samples[k] = s
				}
				s.add(d)
				e.counters.STUNSamples++
			}
			r.at = 0 // a retransmitted response is not a second sample
			return
		}
	}
}

// STUNRTT returns the round trips of Binding transactions that requester sent to responder.
func (e *Engine) STUNRTT(requester, responder netip.AddrPort) RTTStats {
	if s := e.stun.samples[[2]netip.AddrPort{requester, responder}]; s != nil {
		return *s
	}
	return RTTStats{}
}

// ForgetSTUN drops the samples of a finished channel.
func (e *Engine) ForgetSTUN(local, remote netip.AddrPort) {
	delete(e.stun.samples, [2]netip.AddrPort{local, remote})
	delete(e.stun.samples, [2]netip.AddrPort{remote, local})
}
