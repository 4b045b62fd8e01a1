package ops

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Snapshot is the agent's counters at one instant, totals since the agent started (summed over
// its capture sources). The agent builds it from the counters its goroutines already keep and
// hands it over with Server.Observe; nothing here reads agent state.
type Snapshot struct {
	Packets Kinds // UDP datagrams captured, by what they carried
	Bytes   Kinds // their UDP payload bytes

	MalformedRTP  uint64 // RTP-looking datagrams that did not parse
	MalformedRTCP uint64 // RTCP sub-packets that overran the datagram or did not parse

	Streams  int // RTP streams (SSRC and direction) in calls now
	Channels int // channels in calls now
	Calls    int // calls in progress now

	Records Records

	CaptureDrops  uint64 // packets the kernel or driver dropped before the agent read them
	TokenRenewals uint64 // OAuth2 tokens fetched from the authority
}

// Kinds counts by payload kind.
type Kinds struct {
	RTP, RTCP, STUN, Other uint64
}

// Records are the uploader's counters (uploader.Stats, field for field).
type Records struct {
	Spooled, Uploaded, Retried, DeadLettered, Dropped, Expired, Corrupt uint64
	Pending, Held                                                       int
}

// uploadBuckets span a loopback sink (under a millisecond) to Graph behind a slow link.
var uploadBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// snapshotCollector exports the last Snapshot as const metrics at each scrape, so a scrape
// sees one consistent instant and never touches the agent's goroutines.
type snapshotCollector struct {
	mu   sync.Mutex // guards last, written by Observe and read by scrapes
	last Snapshot

	descs map[string]*prometheus.Desc
}

type metricDef struct {
	name, help string
	gauge      bool
	labels     []string
	values     func(*Snapshot) []labeled
}

type labeled struct {
	v      float64
	labels []string
}

func one(v uint64) []labeled { return []labeled{{v: float64(v)}} }

func byKind(k Kinds) []labeled {
	return []labeled{
		{float64(k.RTP), []string{"rtp"}},
		{float64(k.RTCP), []string{"rtcp"}},
		{float64(k.STUN), []string{"stun"}},
		{float64(k.Other), []string{"other"}},
	}
}

var metricDefs = []metricDef{
	{name: "tdq_packets_total", help: "UDP datagrams captured, by payload kind.", labels: []string{"kind"},
		values: func(s *Snapshot) []labeled { return byKind(s.Packets) }},
	{name: "tdq_bytes_total", help: "UDP payload bytes captured, by payload kind.", labels: []string{"kind"},
		values: func(s *Snapshot) []labeled { return byKind(s.Bytes) }},
	{name: "tdq_malformed_packets_total", help: "Packets that looked like RTP or RTCP but did not parse.", labels: []string{"kind"},
		values: func(s *Snapshot) []labeled {
			return []labeled{{float64(s.MalformedRTP), []string{"rtp"}}, {float64(s.MalformedRTCP), []string{"rtcp"}}}
		}},
	{name: "tdq_active_streams", help: "RTP streams in calls in progress.", gauge: true,
		values: func(s *Snapshot) []labeled { return one(uint64(s.Streams)) }},
	{name: "tdq_active_channels", help: "Channels in calls in progress.", gauge: true,
		values: func(s *Snapshot) []labeled { return one(uint64(s.Channels)) }},
	{name: "tdq_active_calls", help: "Calls in progress.", gauge: true,
		values: func(s *Snapshot) []labeled { return one(uint64(s.Calls)) }},
	{name: "tdq_records_spooled_total", help: "Records written to the spool.",
		values: func(s *Snapshot) []labeled { return one(s.Records.Spooled) }},
	{name: "tdq_records_uploaded_total", help: "Records Graph accepted.",
		values: func(s *Snapshot) []labeled { return one(s.Records.Uploaded) }},
	{name: "tdq_records_retried_total", help: "Failed upload attempts rescheduled.",
		values: func(s *Snapshot) []labeled { return one(s.Records.Retried) }},
	{name: "tdq_records_dead_lettered_total", help: "Records moved to deadletter/ (refused by Graph, or expired).",
		values: func(s *Snapshot) []labeled { return one(s.Records.DeadLettered) }},
	{name: "tdq_records_dropped_total", help: "Records lost to the spool caps or a failing disk.",
		values: func(s *Snapshot) []labeled { return one(s.Records.Dropped) }},
	{name: "tdq_records_expired_total", help: "Records undelivered after uploader.max_age (also dead-lettered).",
		values: func(s *Snapshot) []labeled { return one(s.Records.Expired) }},
	{name: "tdq_records_corrupt_total", help: "Spool files that failed their checksum.",
		values: func(s *Snapshot) []labeled { return one(s.Records.Corrupt) }},
	{name: "tdq_records_pending", help: "Records in the spool waiting for upload.", gauge: true,
		values: func(s *Snapshot) []labeled { return one(uint64(s.Records.Pending)) }},
	{name: "tdq_records_held", help: "Records in memory waiting for the disk.", gauge: true,
		values: func(s *Snapshot) []labeled { return one(uint64(s.Records.Held)) }},
	{name: "tdq_capture_drops_total", help: "Packets dropped by the kernel or driver before the agent read them.",
		values: func(s *Snapshot) []labeled { return one(s.CaptureDrops) }},
	{name: "tdq_token_renewals_total", help: "OAuth2 tokens fetched for Graph.",
		values: func(s *Snapshot) []labeled { return one(s.TokenRenewals) }},
}

func newSnapshotCollector() *snapshotCollector {
	c := &snapshotCollector{descs: make(map[string]*prometheus.Desc, len(metricDefs))}
	for _, d := range metricDefs {
		c.descs[d.name] = prometheus.NewDesc(d.name, d.help, d.labels, nil)
	}
	return c
}

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	s := c.last
	c.mu.Unlock()
	for _, d := range metricDefs {
		typ := prometheus.CounterValue
		if d.gauge {
			typ = prometheus.GaugeValue
		}
		for _, l := range d.values(&s) {
			ch <- prometheus.MustNewConstMetric(c.descs[d.name], typ, l.v, l.labels...)
		}
	}
}

func (c *snapshotCollector) set(s Snapshot) {
	c.mu.Lock()
	c.last = s
	c.mu.Unlock()
}

// newRegistry builds the server's own registry (no global state): the snapshot, the upload
// latency histogram, the number of announced identities, and the Go runtime and process
// collectors operators expect.
func newRegistry(snap *snapshotCollector, latency prometheus.Histogram, ids *Identities) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(snap, latency,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tdq_announced_identities",
			Help: "Call identities announced through the control input and not yet expired.",
		}, func() float64 { return float64(ids.Len()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

func newLatencyHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tdq_upload_duration_seconds",
		Help:    "Time from sending a record to Graph's answer, whatever the answer.",
		Buckets: uploadBuckets,
	})
}

// Observe hands the server the agent's counters; the agent calls it about once a second. It is
// safe for concurrent use and does not block on scrapes.
func (s *Server) Observe(m Snapshot) { s.snap.set(m) }

// ObserveUpload records one upload attempt's duration, from request to answer (or network
// failure). The uploader's goroutine may call it after every attempt.
func (s *Server) ObserveUpload(d time.Duration) { s.latency.Observe(d.Seconds()) }
