package agent

import "math"

// The estimated MOS of the call-end log line: the ITU-T G.107 E-model (06/2015) rating R from a
// channel's loss, jitter and round trip, turned into a MOS by G.107 Annex B. It is an estimate
// for the operator reading the log, not a measurement, and never goes into the Graph record
// (teleconferenceDeviceMediaQuality has no such field).
//
//	R   = Ro − Is − Id − Ie,eff + A                                   G.107 §7.1
//	    = 93.2 − Idd − Ie,eff                                          defaults, A = 0
//	Ta  = RTT/2 + 2·jitter + 20 ms                                     one-way (mouth-to-ear) delay
//	Idd = 0                                                for Ta ≤ 100 ms    G.107 §7.4
//	Idd = 25·{(1+X⁶)^⅙ − 3·(1+(X/3)⁶)^⅙ + 2}, X = log2(Ta/100 ms)       for Ta > 100 ms
//	Ie,eff = Ie + (95 − Ie)·Ppl/(Ppl/BurstR + Bpl), BurstR = 1          G.107 §7.5
//	MOS = 1 (R < 0); 4.5 (R > 100); else 1 + 0.035R + R(R−60)(100−R)·7·10⁻⁶   G.107 Annex B
//
// Choices, with their reasons:
//   - 93.2 is the R of the default parameters of G.107 §7.7 with no delay and no loss (Ro − Is
//     with the small Idte and Idle those defaults give at T = 0 folded in).
//   - Idte (talker echo) and Idle (listener echo) are taken as that zero-delay value: a room
//     device cancels its echo. With the default TELR of 65 dB and no cancelling, Idte would take
//     about 2.8 more off R at T = 150 ms; the estimate leaves that out.
//   - Idd is the delay term of G.107 §7.4 with the default delay sensitivity (sT = 1, mT = 100
//     ms), where it reduces to the classic formula above.
//   - The jitter allowance is 2 × the RFC 3550 interarrival jitter J. For Gaussian transit times
//     of deviation σ, J tends to E|D| = 2σ/√π ≈ 1.13σ, so 2J ≈ 2.26σ: an adaptive buffer that
//     deep lets about 99 % of packets in on time. Packets the buffer would discard as late are
//     not added to the loss.
//   - 20 ms is one frame of packetisation: a 20 ms frame leaves when its last sample is taken,
//     so its first sample waits the whole frame (the usual delay-budget convention). Codec
//     look-ahead and the device's own audio buffers are left out.
//   - BurstR = 1: loss taken as random. The agent does not yet measure burstiness; bursty loss
//     would rate worse.
//   - Ie and Bpl per codec from ITU-T G.113 Appendix I (see impairments).

// impairment is a codec's equipment impairment factor Ie and packet-loss robustness factor Bpl.
type impairment struct{ ie, bpl float64 }

// Codec names mos knows; anything else is rated as codecUnknown.
const (
	codecG711      = "G711"       // PCMU, PCMA: receivers conceal loss (G.711 Appendix I PLC)
	codecG711NoPLC = "G711-noPLC" // for comparison: a receiver that plays silence for a lost packet
	codecG729      = "G729"
	codecG723      = "G723"
	codecOpus      = "opus"
	codecUnknown   = ""
)

// impairments holds ITU-T G.113 (11/2007) Appendix I values: Ie from Table I.1, Bpl for random
// loss from Table I.3. Opus, G.722 and unknown codecs are not in that appendix: they are rated as
// G.711 with PLC (Ie 0, Bpl 25.1), an assumption: they conceal loss at least as well, and the
// narrowband E-model cannot credit their wider band (that is G.107.1's scale, not this one).
var impairments = map[string]impairment{
	codecG711:      {ie: 0, bpl: 25.1},  // G.711 with PLC
	codecG711NoPLC: {ie: 0, bpl: 4.3},   // G.711 without PLC
	codecG729:      {ie: 11, bpl: 19.0}, // G.729A + VAD
	codecG723:      {ie: 15, bpl: 16.1}, // G.723.1 6.3 kbit/s + VAD
	codecOpus:      {ie: 0, bpl: 25.1},  // assumption, see above
	codecUnknown:   {ie: 0, bpl: 25.1},  // assumption, see above
}

// Fixed terms of the one-way delay, in milliseconds.
const (
	framingDelayMs = 20 // one 20 ms frame of packetisation
	jitterBufferK  = 2  // jitter buffer depth in units of the RFC 3550 jitter
	defaultR       = 93.2
	burstR         = 1 // random loss
)

// mos rates one direction of a channel: lossPct (0–100) of its packets lost, jitterMs its mean
// RFC 3550 jitter, rttMs the channel's round trip. r is the E-model rating (not clamped, may be
// negative), mos the estimated MOS from it (1 to 4.5). Negative inputs count as 0.
func mos(lossPct, jitterMs, rttMs float64, codec string) (r, mos float64) {
	lossPct = min(max(lossPct, 0), 100)
	jitterMs, rttMs = max(jitterMs, 0), max(rttMs, 0)
	imp, ok := impairments[codec]
	if !ok {
		imp = impairments[codecUnknown]
	}
	ta := rttMs/2 + jitterBufferK*jitterMs + framingDelayMs
	ieEff := imp.ie + (95-imp.ie)*lossPct/(lossPct/burstR+imp.bpl)
	r = defaultR - delayImpairment(ta) - ieEff
	return r, mosFromR(r)
}

// delayImpairment is G.107's Idd for a one-way delay of ta milliseconds (sT = 1, mT = 100 ms).
func delayImpairment(ta float64) float64 {
	if ta <= 100 {
		return 0
	}
	x := math.Log2(ta / 100)
	return 25 * (math.Pow(1+math.Pow(x, 6), 1.0/6) - 3*math.Pow(1+math.Pow(x/3, 6), 1.0/6) + 2)
}

// mosFromR is G.107 Annex B's MOS (conversational quality, estimated) for a rating R.
func mosFromR(r float64) float64 {
	switch {
	case r < 0:
		return 1
	case r > 100:
		return 4.5
	}
	return 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
}

// codecOf names the codec of an audio stream for mos from its RTP payload type (RFC 3551's
// static types) or, for a dynamic type, its clock: 48 kHz audio is Opus in practice (RFC 7587
// requires the 48000 clock whatever the sampling rate).
func codecOf(payloadType uint8, clock uint32) string {
	switch {
	case payloadType == 0 || payloadType == 8:
		return codecG711
	case payloadType == 4:
		return codecG723
	case payloadType == 18:
		return codecG729
	case payloadType >= 96 && payloadType <= 127 && clock == 48000:
		return codecOpus
	}
	return codecUnknown
}
