package agent

import "math"

// Graph OData type names (DESIGN §5).
const (
	odataQuality = "#microsoft.graph.teleconferenceDeviceQuality"
	odataAudio   = "#microsoft.graph.teleconferenceDeviceAudioQuality"
	odataVideo   = "#microsoft.graph.teleconferenceDeviceVideoQuality"
)

// Body is the request body of logTeleconferenceDeviceQuality.
type Body struct {
	Quality Quality `json:"quality"`
}

// Quality is microsoft.graph.teleconferenceDeviceQuality.
type Quality struct {
	ODataType                         string         `json:"@odata.type"`
	CallChainID                       string         `json:"callChainId"`
	CloudServiceDeploymentEnvironment string         `json:"cloudServiceDeploymentEnvironment,omitempty"`
	CloudServiceDeploymentID          string         `json:"cloudServiceDeploymentId,omitempty"`
	CloudServiceInstanceName          string         `json:"cloudServiceInstanceName,omitempty"`
	CloudServiceName                  string         `json:"cloudServiceName,omitempty"`
	DeviceDescription                 string         `json:"deviceDescription"`
	DeviceName                        string         `json:"deviceName"`
	MediaLegID                        string         `json:"mediaLegId"`
	MediaQualityList                  []MediaQuality `json:"mediaQualityList"`
	ParticipantID                     string         `json:"participantId"`
}

// MediaQuality is one channel: teleconferenceDeviceAudioQuality, or
// teleconferenceDeviceVideoQuality (which adds bit and frame rates) for a 90 kHz channel.
// Pointer fields are omitted when the value could not be measured: Graph must never be told 0
// for "unknown".
type MediaQuality struct {
	ODataType                                 string    `json:"@odata.type"`
	AverageInboundBitRate                     *float64  `json:"averageInboundBitRate,omitempty"`
	AverageInboundFrameRate                   *float64  `json:"averageInboundFrameRate,omitempty"`
	AverageInboundJitter                      *Duration `json:"averageInboundJitter,omitempty"`
	AverageInboundPacketLossRateInPercentage  *float64  `json:"averageInboundPacketLossRateInPercentage,omitempty"`
	AverageInboundRoundTripDelay              *Duration `json:"averageInboundRoundTripDelay,omitempty"`
	AverageOutboundBitRate                    *float64  `json:"averageOutboundBitRate,omitempty"`
	AverageOutboundFrameRate                  *float64  `json:"averageOutboundFrameRate,omitempty"`
	AverageOutboundJitter                     *Duration `json:"averageOutboundJitter,omitempty"`
	AverageOutboundPacketLossRateInPercentage *float64  `json:"averageOutboundPacketLossRateInPercentage,omitempty"`
	AverageOutboundRoundTripDelay             *Duration `json:"averageOutboundRoundTripDelay,omitempty"`
	ChannelIndex                              int32     `json:"channelIndex"`
	InboundPackets                            *int64    `json:"inboundPackets,omitempty"`
	LocalIPAddress                            string    `json:"localIPAddress"`
	LocalPort                                 int32     `json:"localPort"`
	MaximumInboundJitter                      *Duration `json:"maximumInboundJitter,omitempty"`
	MaximumInboundPacketLossRateInPercentage  *float64  `json:"maximumInboundPacketLossRateInPercentage,omitempty"`
	MaximumInboundRoundTripDelay              *Duration `json:"maximumInboundRoundTripDelay,omitempty"`
	MaximumOutboundJitter                     *Duration `json:"maximumOutboundJitter,omitempty"`
	MaximumOutboundPacketLossRateInPercentage *float64  `json:"maximumOutboundPacketLossRateInPercentage,omitempty"`
	MaximumOutboundRoundTripDelay             *Duration `json:"maximumOutboundRoundTripDelay,omitempty"`
	MediaDuration                             *Duration `json:"mediaDuration,omitempty"`
	NetworkLinkSpeedInBytes                   *int64    `json:"networkLinkSpeedInBytes,omitempty"`
	OutboundPackets                           *int64    `json:"outboundPackets,omitempty"`
	RemoteIPAddress                           string    `json:"remoteIPAddress"`
	RemotePort                                int32     `json:"remotePort"`
}

// percent rounds a 0-100 loss rate to 4 decimals: finer digits are noise, and rounding keeps
// encoding/json from writing tiny values with an exponent.
func percent(v float64) *float64 {
	r := math.Round(v*1e4) / 1e4
	return &r
}

// seconds turns a float number of seconds into a Duration.
func seconds(s float64) *Duration {
	d := Duration(math.Round(s * 1e9))
	return &d
}

func nanos(ns int64) *Duration {
	d := Duration(ns)
	return &d
}

func count(n uint64) *int64 {
	v := int64(n)
	return &v
}

func rate(v float64) *float64 {
	r := math.Round(v*100) / 100
	return &r
}
