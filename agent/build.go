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
	RTTMs            float64 // -1 when no sample
	Clock            uint32
	ClockSource      string
	Duplicates       uint64
	RTCPReports      uint64
	MediaDurationSec float64
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
		InLossPct: -1, InJitterMs: -1, InJitterMaxMs: -1, OutLossPct: -1, RTTMs: -1,
	}
	for _, s := range append(append([]metrics.StreamStats(nil), in...), out...) {
		if sum.Clock == 0 && s.ClockRate != 0 {
			sum.Clock, sum.ClockSource = s.ClockRate, s.ClockSource.String()
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
	return mq, sum, true
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

// outbound fills what the remote's RTCP reports say about the local streams, and the round trip
// from those reports. Without RTCP XR, the inbound round trip is the same path: the same samples.
func outbound(mq *MediaQuality, sum *ChannelSummary, e *metrics.Engine, out []metrics.StreamStats, video bool) {
	if len(out) == 0 {
		return
	}
	var packets, bytes, frames, reports, rttN uint64
	var fracSum, fracMax, jSum, jMax float64
	var rttSum, rttMax int64
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
		rttN += r.RTTCount
		rttSum += r.RTTSum
		rttMax = max(rttMax, r.RTTMax)
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
		}
	}
	if rttN > 0 {
		avg := rttSum / int64(rttN)
		mq.AverageOutboundRoundTripDelay = nanos(avg)
		mq.MaximumOutboundRoundTripDelay = nanos(rttMax)
		mq.AverageInboundRoundTripDelay = nanos(avg)
		mq.MaximumInboundRoundTripDelay = nanos(rttMax)
		sum.RTTMs = float64(avg) / 1e6
	}
	if video && last > first {
		span := time.Duration(last - first).Seconds()
		mq.AverageOutboundBitRate = rate(float64(bytes) * 8 / span)
		mq.AverageOutboundFrameRate = rate(float64(frames) / span)
	}
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
