package capture

import "time"

// Source yields decoded UDP datagrams. Each Source is owned by one goroutine.
type Source interface {
	// Next fills p with the next UDP datagram, skipping (and counting) frames that are not
	// UDP over IP. It returns io.EOF when a finite source is exhausted.
	Next(p *Packet) error
	// Stats returns the counters so far.
	Stats() Stats
	Close() error
}

// Stats counts what a source saw. Malformed frames are counted, never fatal.
type Stats struct {
	Frames    uint64 // frames read
	UDP       uint64 // frames that decoded to a UDP datagram
	NotUDP    uint64 // IP packets of another protocol, or frames that are not IP (ARP, ...)
	Fragments uint64 // IP fragments (not reassembled yet)
	Malformed uint64 // truncated or inconsistent headers
	LinkType  uint64 // frames of a link type the decoder does not know
	Truncated bool   // the file ends inside a packet record
}

// decode turns one captured frame into p, counting it; false when it holds no UDP datagram.
// Every source's Next ends with it, so all count frames the same way.
func (s *Stats) decode(link LinkType, data []byte, ts time.Time, p *Packet) bool {
	s.Frames++
	err := Decode(link, data, p)
	s.count(err)
	if err != nil {
		return false
	}
	p.Time = ts.UnixNano()
	p.Kind = Classify(p.Payload)
	return true
}

func (s *Stats) count(err error) {
	switch err {
	case nil:
		s.UDP++
	case ErrNotUDP, ErrNotIP:
		s.NotUDP++
	case ErrFragment:
		s.Fragments++
	case ErrLinkType:
		s.LinkType++
	default:
		s.Malformed++
	}
}
