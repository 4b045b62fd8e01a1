package agent

import (
	"math"

	"go.uber.org/zap/zapcore"
)

// MarshalLogObject writes a channel's headline numbers into the call-end log line; values that
// were not measured are left out rather than logged as -1.
//
// mos (2 decimals) is an estimate, not a measurement: the ITU-T G.107 E-model rating
// R = 93.2 − Idd(Ta) − Ie,eff with Ta = RTT/2 + 2·jitter + 20 ms and
// Ie,eff = Ie + (95 − Ie)·loss%/(loss% + Bpl) (codec's Ie and Bpl from G.113 Appendix I), mapped
// to 1–4.5 by G.107 Annex B, for the worse of the two directions of an audio channel; mos.go
// gives the formulas and the reasons for each choice. Video channels have none.
func (c ChannelSummary) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("kind", c.Kind)
	enc.AddString("local", c.Local)
	enc.AddString("remote", c.Remote)
	enc.AddUint64("in_packets", c.InPackets)
	enc.AddUint64("out_packets", c.OutPackets)
	if c.InLossPct >= 0 {
		enc.AddFloat64("in_loss_pct", round3(c.InLossPct))
	}
	if c.InJitterMs >= 0 {
		enc.AddFloat64("in_jitter_ms", round3(c.InJitterMs))
		enc.AddFloat64("in_jitter_max_ms", round3(c.InJitterMaxMs))
	}
	if c.OutLossPct >= 0 {
		enc.AddFloat64("out_loss_pct", round3(c.OutLossPct))
	}
	if c.RTTMs >= 0 {
		enc.AddFloat64("rtt_ms", round3(c.RTTMs))
		enc.AddString("rtt_source", c.RTTSource)
	}
	if c.MOS >= 0 {
		enc.AddFloat64("mos", round2(c.MOS))
	}
	enc.AddUint32("clock_hz", c.Clock)
	enc.AddString("clock_source", c.ClockSource)
	if c.Duplicates > 0 {
		enc.AddUint64("duplicates", c.Duplicates)
	}
	return nil
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func round2(v float64) float64 { return math.Round(v*100) / 100 }
