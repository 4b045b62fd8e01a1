package capture

import "net/netip"

// Kind is what a UDP payload looks like by its first bytes (RFC 7983 demultiplexing).
type Kind uint8

// Kinds of UDP payload.
const (
	KindOther Kind = iota
	KindRTP
	KindRTCP
	KindSTUN
	KindDTLS
)

var kindNames = [...]string{"other", "rtp", "rtcp", "stun", "dtls"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Packet is one decoded UDP datagram. Decode fills a caller-owned Packet so the per-packet path
// allocates nothing; Payload aliases the source's buffer and is valid only until the next read.
type Packet struct {
	Time    int64 // capture time, nanoseconds since the Unix epoch
	Src     netip.AddrPort
	Dst     netip.AddrPort
	Kind    Kind
	Payload []byte
}
