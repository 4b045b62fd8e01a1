package agent

import (
	"time"

	"github.com/tdq-agent/tdq-agent/metrics"
)

// ChannelSummary is the headline of one channel, for the call-end log line and analyze's table.
type ChannelSummary struct {
	Index            int
	Local, Remote    string
	Kind             string // audio or video
	InPackets        uint64
	OutPackets       uint64
	InLossPct        float64 // -1 when not measured
	InJitterMs       float64 // mean; -1 when not measured
	InJitterMaxMs    float64
	OutLossPct       float64 // from the remote's reports; -1 when none
	OutJitterMs      float64 // mean, from the remote's reports; -1 when none
	RTTMs            float64 // -1 when no sample
	RTTSource        string  // rtcp or stun
	Clock            uint32
	ClockSource      string
	Duplicates       uint64
	RTCPReports      uint64
	MediaDurationSec float64
	// MOS is the estimated MOS of the worse direction of an audio channel (G.107 E-model, see
	// mos.go), and R its rating. MOS is -1 for video, and when neither direction's loss or the
	// round trip was measured. Only the log shows it: the Graph record has no such field.
	MOS float64
	R   float64
}

// channelRecord builds the Graph media quality of one channel and its summary. Every field that
// was not measured stays nil and is omitted from the JSON (DESIGN §4: never 0, never NaN).
func channelRecord(e *metrics.Engine, ch *channel, index int) (MediaQuality, ChannelSummary, bool) {
	in := validStats(ch.in)
	out := validStats(ch.out)
	if len(in) == 0 && len(out) == 0 {
		return MediaQuality{}, ChannelSummary{}, false
	}
	mq := MediaQuality{
		ODataType:       odataAudio,
		ChannelIndex:    int32(index),
		LocalIPAddress:  ch.local.Addr().Unmap().String(),
		LocalPort:       int32(ch.local.Port()),
		RemoteIPAddress: ch.remote.Addr().Unmap().String(),
		RemotePort:      int32(ch.remote.Port()),
	}
	sum := ChannelSummary{
		Index: index, Local: ch.local.String(), Remote: ch.remote.String(), Kind: "audio",
		InLossPct: -1, InJitterMs: -1, InJitterMaxMs: -1, OutLossPct: -1, OutJitterMs: -1, RTTMs: -1,
		MOS: -1,
	}
	var payloadType uint8
	for _, s := range append(append([]metrics.StreamStats(nil), in...), out...) {
		if sum.Clock == 0 && s.ClockRate != 0 {
			sum.Clock, sum.ClockSource, payloadType = s.ClockRate, s.ClockSource.String(), s.PayloadType
		}
	}
	if sum.ClockSource == "" {
		sum.ClockSource = metrics.ClockUnknown.String()
	}
	video := sum.Clock == 90000
	if video {
		mq.ODataType, sum.Kind = odataVideo, "video"
	}
	if active := ch.activity.Total(); active > 0 {
		mq.MediaDuration = nanos(active)
		sum.MediaDurationSec = time.Duration(active).Seconds()
	}

	inbound(&mq, &sum, in, video)
	outbound(&mq, &sum, e, out, video)
	roundTrip(&mq, &sum, e, ch, out)
	if !video {
		estimateMOS(&sum, codecOf(payloadType, sum.Clock))
	}
	return mq, sum, true
}

// estimateMOS rates each direction whose loss is known with its own loss and jitter and the
// channel's round trip, and keeps the worse: the device's user hears the inbound stream, the far
// end the outbound one, and the call was only as good as what its worse listener heard. A
// direction whose jitter is unknown gets no jitter-buffer allowance.
func estimateMOS(sum *ChannelSummary, codec string) {
	if sum.RTTMs < 0 {
		return
	}
	for _, d := range [][2]float64{{sum.InLossPct, sum.InJitterMs}, {sum.OutLossPct, sum.OutJitterMs}} {
		if d[0] < 0 {
			continue
		}
		r, m := mos(d[0], max(d[1], 0), sum.RTTMs, codec)
		if sum.MOS < 0 || r < sum.R {
			sum.R, sum.MOS = r, m
		}
	}
}

func inbound(mq *MediaQuality, sum *ChannelSummary, in []metrics.StreamStats, video bool) {
	if len(in) == 0 {
		return
	}
	var packets, dups, bytes, frames uint64
	var expected, lost int64
	var jSum, jMax float64
	var jN uint64
	var winMax float64
	var windows int
	var first, last int64
	for _, s := range in {
		packets += s.Packets
		dups += s.Duplicates
		bytes += s.Bytes
		frames += s.Frames
		expected += s.Expected
		lost += max(0, s.Lost) // DESIGN §4: lost = max(0, expected − received) per SSRC
		if s.JitterSamples > 0 {
			jSum += s.JitterMean * float64(s.JitterSamples)
			jN += s.JitterSamples
			jMax = max(jMax, s.JitterMax)
		}
		if s.Windows > 0 {
			windows += s.Windows
			winMax = max(winMax, s.MaxWindowLoss)
		}
		if first == 0 || s.First < first {
			first = s.First
		}
		last = max(last, s.Last)
	}
	mq.InboundPackets = count(packets)
	sum.InPackets, sum.Duplicates = packets, dups
	if expected > 0 {
		pct := 100 * float64(lost) / float64(expected)
		mq.AverageInboundPacketLossRateInPercentage = percent(pct)
		sum.InLossPct = pct
	}
	if windows > 0 {
		mq.MaximumInboundPacketLossRateInPercentage = percent(winMax)
	}
	if jN > 0 {
		mq.AverageInboundJitter = seconds(jSum / float64(jN))
		mq.MaximumInboundJitter = seconds(jMax)
		sum.InJitterMs, sum.InJitterMaxMs = jSum/float64(jN)*1e3, jMax*1e3
	}
	if video && last > first {
		span := time.Duration(last - first).Seconds()
		mq.AverageInboundBitRate = rate(float64(bytes) * 8 / span)
		mq.AverageInboundFrameRate = rate(float64(frames) / span)
	}
}

// outbound fills what the remote's RTCP reports say about the local streams.
func outbound(mq *MediaQuality, sum *ChannelSummary, e *metrics.Engine, out []metrics.StreamStats, video bool) {
	if len(out) == 0 {
		return
	}
	var packets, bytes, frames, reports uint64
	var fracSum, fracMax, jSum, jMax float64
	var first, last int64
	jitterOK := true
	for _, s := range out {
		packets += s.Packets
		bytes += s.Bytes
		frames += s.Frames
		if first == 0 || s.First < first {
			first = s.First
		}
		last = max(last, s.Last)
		r := e.Reports(s.Key.SSRC)
		if r == nil || r.Count == 0 {
			continue
		}
		reports += r.Count
		fracSum += r.FractionSum
		fracMax = max(fracMax, r.FractionMax)
		if s.ClockRate == 0 {
			jitterOK = false
		} else {
			jSum += r.JitterSum / float64(s.ClockRate)
			jMax = max(jMax, r.JitterMax/float64(s.ClockRate))
		}
	}
	mq.OutboundPackets = count(packets)
	sum.OutPackets, sum.RTCPReports = packets, reports
	if reports > 0 {
		mq.AverageOutboundPacketLossRateInPercentage = percent(fracSum / float64(reports))
		mq.MaximumOutboundPacketLossRateInPercentage = percent(fracMax)
		sum.OutLossPct = fracSum / float64(reports)
		if jitterOK {
			mq.AverageOutboundJitter = seconds(jSum / float64(reports))
			mq.MaximumOutboundJitter = seconds(jMax)
			sum.OutJitterMs = jSum / float64(reports) * 1e3
		}
	}
	if video && last > first {
		span := time.Duration(last - first).Seconds()
		mq.AverageOutboundBitRate = rate(float64(bytes) * 8 / span)
		mq.AverageOutboundFrameRate = rate(float64(frames) / span)
	}
}

// roundTrip fills the four round-trip fields from the best source the channel has:
//   - outbound: the remote's RTCP report blocks answering the device's sender reports;
//   - inbound: the remote's RFC 3611 XR DLRR answering the device's RRTR;
//   - without RTCP round trips (SRTCP, as Teams and WebRTC send): the STUN Binding
//     transactions the device started on the channel's 5-tuple (ICE checks, consent).
//
// A direction with no source of its own takes the other's samples: it is the same path.
func roundTrip(mq *MediaQuality, sum *ChannelSummary, e *metrics.Engine, ch *channel, out []metrics.StreamStats) {
	var sr, xr metrics.RTTStats
	for _, s := range out {
		if r := e.Reports(s.Key.SSRC); r != nil {
			sr.Merge(r.RTT)
			xr.Merge(r.XRRTT)
		}
	}
	outRTT, inRTT := sr, xr
	sum.RTTSource = "rtcp"
	if outRTT.Count == 0 && inRTT.Count == 0 {
		outRTT = e.STUNRTT(ch.local, ch.remote)
		inRTT = outRTT
		sum.RTTSource = "stun"
	}
	if outRTT.Count == 0 {
		outRTT = inRTT
	}
	if inRTT.Count == 0 {
		inRTT = outRTT
	}
	if outRTT.Count == 0 {
		sum.RTTSource = ""
		return
	}
	mq.AverageOutboundRoundTripDelay = nanos(outRTT.Mean())
	mq.MaximumOutboundRoundTripDelay = nanos(outRTT.Max)
	mq.AverageInboundRoundTripDelay = nanos(inRTT.Mean())
	mq.MaximumInboundRoundTripDelay = nanos(inRTT.Max)
	sum.RTTMs = float64(outRTT.Mean()) / 1e6
}

// validStats snapshots the streams that passed probation: a lone datagram that happened to look
// like RTP is not a stream.
func validStats(streams []*metrics.Stream) []metrics.StreamStats {
	var out []metrics.StreamStats
	for _, s := range streams {
		if st := s.Stats(); st.Valid {
			out = append(out, st)
		}
	}
	return out
}
