package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tdq-agent/tdq-agent/capture"
	"github.com/tdq-agent/tdq-agent/metrics"
)

// Finished is one call, ended and turned into its Graph record.
type Finished struct {
	Body     Body
	JSON     []byte // the exact request body, {"quality":{...}}
	Channels []ChannelSummary
	Start    time.Time
	End      time.Time
	Source   string
	// LocalGuessed is set when no local address was configured and the device's end of each
	// channel was inferred from the capture (see guessLocal).
	LocalGuessed bool
	// CaptureDrops counts packets the capture itself lost while the call was active: loss in
	// the record may then be partly the device's, not the network's.
	CaptureDrops uint64
	// GeneratedIDs is set when no identity was announced for the call (DESIGN §6).
	GeneratedIDs bool
}

// Agent turns capture sources into finished calls. One Agent runs one source at a time on the
// caller's goroutine; emit receives each call as it ends and must not keep the goroutine long.
type Agent struct {
	ids        Identities // announced call identities; nil: always generated
	requireIDs bool
	idWait     int64 // ns

	statusMu sync.Mutex // guards status: written by each source's goroutine, read by health
	status   map[string]SourceStatus

	cfg    Config
	log    *zap.Logger
	emitMu sync.Mutex // live captures run one goroutine per interface; emit sees one call at a time
	emit   func(*Finished) error
	devMu  sync.Mutex // device may change on a config reload while captures run
	device DeviceConfig
	local  []netip.Prefix
}

// New builds an agent. emit is called once per finished call; an error from it (the spool
// refused the record) is logged, and the agent carries on with the next call.
func New(cfg Config, log *zap.Logger, emit func(*Finished) error) (*Agent, error) {
	local, err := cfg.Capture.LocalAddrs()
	if err != nil {
		return nil, err
	}
	dev := withHostDefaults(cfg.Device)
	return &Agent{cfg: cfg, log: log.With(zap.String("component", "agent")), emit: emit, device: dev, local: local}, nil
}

// sweepEvery is how often, in capture time, calls are checked for idleness.
const sweepEvery = int64(time.Second)

// ReplayFile reads one capture file to its end (or until ctx is done), emitting each call as it
// ends. Calls still open at the end of the file, at a corrupt record, or at cancellation are
// finished and emitted: nothing measured is dropped.
func (a *Agent) ReplayFile(ctx context.Context, name string) error {
	path, cleanup, err := replayable(name, len(a.local) == 0)
	if err != nil {
		return err
	}
	defer cleanup()
	loc := newLocalizerNets(a.local)
	if len(a.local) == 0 {
		pairs, err := guessLocal(path)
		if err != nil {
			return err
		}
		loc.pairs = pairs
		for k, v := range pairs {
			a.log.Info("local address guessed from the capture; set capture.local or --local to override",
				zap.String("file", name), zap.Stringer("local", v), zap.Stringer("remote", other(k, v)))
		}
	}
	src, err := capture.OpenFile(path)
	if err != nil {
		return err
	}
	defer src.Close()

	r := newRun(a, loc, name)
	r.src = src
	pace := newPacer(a.cfg.Capture.ReplaySpeed)
	var p capture.Packet
	var readErr error
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			break
		}
		err := src.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if err := pace.wait(ctx, p.Time); err != nil {
			break
		}
		r.packet(&p)
	}
	r.endAll()
	r.publish(false, readErr, src.Stats())
	a.logReplay(name, src.Stats(), r, loc)
	return readErr
}

// logReplay reports what a file held, and warns about what an operator should know: a file cut
// short, frames the decoder could not read, no call found, configured addresses never seen.
func (a *Agent) logReplay(name string, st capture.Stats, r *run, loc *localizer) {
	c := r.engine.Counters()
	a.log.Info("capture replayed", zap.String("file", name), zap.Uint64("frames", st.Frames),
		zap.Uint64("udp", st.UDP), zap.Uint64("not_udp", st.NotUDP), zap.Uint64("fragments", st.Fragments),
		zap.Uint64("malformed", st.Malformed+c.MalformedRTP+c.RTCPErrors), zap.Uint64("unsupported_link_type", st.LinkType),
		zap.Uint64("rtp", c.RTP), zap.Uint64("rtcp", c.RTCP), zap.Uint64("srtcp", c.SRTCP),
		zap.Uint64("rtt_samples", c.RTTSamples), zap.Uint64("rtt_skipped", c.RTTSkipped),
		zap.Uint64("absurd_reports", c.AbsurdReports), zap.Uint64("stun", c.STUN),
		zap.Uint64("stun_rtt_samples", c.STUNSamples), zap.Int("calls", r.calls))
	if st.Truncated {
		a.log.Warn("capture file ends inside a packet record (cut short while being written?); the frames before the cut were used",
			zap.String("file", name), zap.Uint64("frames", st.Frames))
	}
	if st.LinkType > 0 {
		a.log.Warn("frames of a link type the agent cannot decode were skipped", zap.String("file", name),
			zap.Uint64("frames", st.LinkType))
	}
	if r.calls == 0 {
		a.log.Warn("no RTP call found in the capture", zap.String("file", name), zap.Uint64("frames", st.Frames),
			zap.Uint64("rtp", c.RTP))
	}
	if len(a.local) > 0 && !loc.seen && c.RTP > 0 {
		a.log.Warn("none of the configured local addresses appears in the RTP of this capture; every stream is taken as inbound",
			zap.String("file", name), zap.Stringers("local", a.local))
	}
}

// replayable returns a path that can be read twice when the local address must be guessed
// (a pipe or /dev/stdin cannot): such input is first copied to a temporary file.
func replayable(name string, twice bool) (string, func(), error) {
	info, err := os.Stat(name)
	if err != nil {
		return "", nil, fmt.Errorf("open capture: %w", err)
	}
	if info.IsDir() {
		return "", nil, fmt.Errorf("open capture %s: is a directory, want a pcap or pcapng file", name)
	}
	if info.Mode().IsRegular() || !twice {
		return name, func() {}, nil
	}
	in, err := os.Open(name)
	if err != nil {
		return "", nil, fmt.Errorf("open capture: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp("", "tdq-capture-*")
	if err != nil {
		return "", nil, fmt.Errorf("copy %s to a temporary file: %w", name, err)
	}
	cleanup := func() { os.Remove(tmp.Name()) }
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		cleanup()
		return "", nil, fmt.Errorf("copy %s to a temporary file: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		cleanup()
		return "", nil, err
	}
	return tmp.Name(), cleanup, nil
}

func (a *Agent) emitSafe(f *Finished) error {
	a.emitMu.Lock()
	defer a.emitMu.Unlock()
	return a.emit(f)
}

func other(k addrPair, v netip.Addr) netip.Addr {
	if k.a == v {
		return k.b
	}
	return k.a
}

// run is the state of one source: its engine and flow table, owned by one goroutine.
type run struct {
	a         *Agent
	engine    *metrics.Engine
	tracker   *tracker
	source    string
	idle      int64
	nextSweep int64
	calls     int
	linkSpeed int64 // bytes per second of the captured link; 0 when unknown (files, "any")

	// Counters for Status, bumped on the per-packet path and published once a second.
	kindPackets [kinds]uint64
	kindBytes   [kinds]uint64
	drops       uint64
	src         capture.Source // for the frame counters in publish; nil in tests

	now  int64      // the latest tick's time, ns
	held []heldCall // finished calls waiting for an announced identity
}

func newRun(a *Agent, loc *localizer, source string) *run {
	return &run{
		a:       a,
		engine:  metrics.NewEngine(a.cfg.Metrics),
		tracker: newTracker(loc, int64(a.cfg.Call.MediaGap)),
		source:  source,
		idle:    int64(a.cfg.Call.IdleTimeout),
	}
}

// packet is the per-packet path: no allocation once a stream is known.
func (r *run) packet(p *capture.Packet) {
	r.kindPackets[p.Kind]++
	r.kindBytes[p.Kind] += uint64(len(p.Payload))
	switch p.Kind {
	case capture.KindRTP:
		s, isNew := r.engine.RTP(p)
		if s == nil {
			break
		}
		if isNew {
			r.tracker.addStream(s, p)
			r.signalledClocks(s)
		} else {
			r.tracker.channelOf(s).activity.Update(p.Time)
		}
	case capture.KindRTCP:
		r.engine.RTCP(p)
	case capture.KindSTUN:
		r.engine.STUN(p)
	}
	r.tick(p.Time)
}

// tick ends the calls idle at now (ns), at most once per sweepEvery.
func (r *run) tick(now int64) {
	if now < r.nextSweep {
		return
	}
	r.now = now
	if r.nextSweep != 0 {
		for _, c := range r.tracker.endIdle(now, r.idle) {
			r.finish(c)
		}
		r.endAnnounced()
		if len(r.held) > 0 {
			r.releaseHeld(now, false)
		}
	}
	r.nextSweep = now + sweepEvery
	r.publish(true, nil, r.frames())
}

func (r *run) endAll() {
	for _, c := range r.tracker.endAll() {
		r.finish(c)
	}
	r.releaseHeld(r.now, true)
}

// finish builds the call's record, hands it over, and frees its streams.
func (r *run) finish(c *call) {
	defer r.release(c)
	f, ok := r.a.build(r.engine, c, r.linkSpeed)
	if !ok {
		r.a.log.Debug("call dropped: no stream passed RTP probation", zap.Stringer("remote", c.remote))
		return
	}
	f.Source = r.source
	f.LocalGuessed = len(r.a.local) == 0
	r.calls++
	if id, ok := r.a.announced(c); ok {
		f.withIdentity(id)
	} else if r.a.requireIDs {
		r.held = append(r.held, heldCall{f: f, c: c, deadline: r.now + r.a.idWait})
		return
	}
	r.emit(f)
}

// emit logs the call's end and hands its record over.
func (r *run) emit(f *Finished) {
	r.a.logCall(f)
	if err := r.a.emitSafe(f); err != nil {
		r.a.log.Error("call record not stored", zap.String("callChainId", f.Body.Quality.CallChainID), zap.Error(err))
	}
}

func (r *run) release(c *call) {
	for _, ch := range c.channels {
		r.engine.ForgetSTUN(ch.local, ch.remote)
		for _, s := range ch.in {
			r.engine.Remove(s.Key())
		}
		for _, s := range ch.out {
			r.engine.Remove(s.Key())
		}
	}
}

// build turns a call into its record; false when no channel had a real stream.
func (a *Agent) build(e *metrics.Engine, c *call, linkSpeed int64) (*Finished, bool) {
	a.devMu.Lock()
	dev := a.device
	a.devMu.Unlock()
	id := generatedIdentity(dev.Name, c)
	q := Quality{
		ODataType:                         odataQuality,
		CallChainID:                       id.CallChainID,
		ParticipantID:                     id.ParticipantID,
		MediaLegID:                        id.MediaLegID,
		DeviceName:                        dev.Name,
		DeviceDescription:                 dev.Description,
		CloudServiceName:                  dev.CloudServiceName,
		CloudServiceInstanceName:          dev.CloudServiceInstanceName,
		CloudServiceDeploymentID:          dev.CloudServiceDeploymentID,
		CloudServiceDeploymentEnvironment: dev.CloudServiceDeploymentEnvironment,
		MediaQualityList:                  []MediaQuality{},
	}
	f := &Finished{Start: time.Unix(0, c.first), End: time.Unix(0, c.last()), CaptureDrops: c.drops, GeneratedIDs: true}
	for _, ch := range c.channels {
		mq, sum, ok := channelRecord(e, ch, len(q.MediaQualityList)+1)
		if !ok {
			continue
		}
		if linkSpeed > 0 {
			mq.NetworkLinkSpeedInBytes = &linkSpeed
		}
		q.MediaQualityList = append(q.MediaQualityList, mq)
		f.Channels = append(f.Channels, sum)
	}
	if len(q.MediaQualityList) == 0 {
		return nil, false
	}
	f.Body = Body{Quality: q}
	js, err := json.Marshal(f.Body)
	if err != nil {
		// Only a type the encoder cannot handle gets here: a bug, not bad input.
		panic(fmt.Sprintf("marshal record: %v", err))
	}
	f.JSON = js
	return f, true
}

func (a *Agent) logCall(f *Finished) {
	fields := []zap.Field{
		zap.String("callChainId", f.Body.Quality.CallChainID),
		zap.Bool("generated_ids", f.GeneratedIDs),
		zap.Time("start", f.Start),
		zap.String("duration", f.End.Sub(f.Start).Round(time.Millisecond).String()),
		zap.Int("channels", len(f.Channels)),
	}
	if f.CaptureDrops > 0 {
		fields = append(fields, zap.Uint64("capture_drops", f.CaptureDrops))
	}
	for _, ch := range f.Channels {
		fields = append(fields, zap.Object(fmt.Sprintf("ch%d", ch.Index), ch))
	}
	a.log.Info("call ended", fields...)
}

// pacer replays a file at its recorded pace times speed; speed 0 does not wait.
type pacer struct {
	speed       float64
	first       int64
	wallStart   time.Time
	timer       *time.Timer
	initialized bool
}

func newPacer(speed float64) *pacer { return &pacer{speed: speed} }

func (p *pacer) wait(ctx context.Context, at int64) error {
	if p.speed <= 0 {
		return nil
	}
	if !p.initialized {
		p.initialized, p.first, p.wallStart = true, at, time.Now()
		return nil
	}
	due := p.wallStart.Add(time.Duration(float64(at-p.first) / p.speed))
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-p.timer.C:
		return nil
	case <-ctx.Done():
		return errors.New("replay interrupted")
	}
}

func (r *run) frames() capture.Stats {
	if r.src == nil {
		return capture.Stats{}
	}
	return r.src.Stats()
}
