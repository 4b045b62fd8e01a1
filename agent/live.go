package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tdq-agent/tdq-agent/capture"
)

// livePoll is how long a capture waits for a packet before the agent checks for idle calls by
// the wall clock; it also bounds how long shutdown waits for a capture goroutine.
const livePoll = 200 * time.Millisecond

// addrRefresh is how often the device's own addresses are read again (DHCP, Wi-Fi roaming).
const addrRefresh = 30 * time.Second

// RunLive captures on the configured interfaces until ctx is done, one goroutine per interface,
// each owning its capture, engine and flow table. At the end, calls in progress are finished and
// emitted. It returns when every capture has stopped; a capture that fails to open fails all.
func (a *Agent) RunLive(ctx context.Context) error {
	ports, err := capture.ParsePortRange(a.cfg.Capture.Ports)
	if err != nil {
		return err
	}
	var sources []*capture.LiveSource
	for _, name := range a.cfg.Capture.Interfaces {
		src, err := capture.OpenLive(name, ports, a.cfg.Capture.Promiscuous, livePoll)
		if err != nil {
			for _, s := range sources {
				s.Close()
			}
			return err
		}
		sources = append(sources, src)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(sources))
	for i, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer src.Close()
			errs[i] = a.capture(ctx, src)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// capture is one interface's loop. Time comes from the packets; between packets the wall clock
// ends idle calls.
func (a *Agent) capture(ctx context.Context, src *capture.LiveSource) error {
	name := src.Name()
	loc, err := a.liveLocalizer(name)
	if err != nil {
		// Other interfaces go on; say so now rather than at shutdown.
		a.log.Error("capture cannot start on this interface", zap.String("interface", name), zap.Error(err))
		return err
	}
	r := newRun(a, loc, name)
	r.src = src
	if speed, ok := capture.LinkSpeed(name); ok {
		r.linkSpeed = speed
	}
	a.log.Info("capture started", zap.String("interface", name), zap.Int64("link_speed_bytes", r.linkSpeed),
		zap.Stringers("local", mapKeys(loc.addrs)))
	nextRefresh := time.Now().Add(addrRefresh)
	warn := newWarnLimiter(a.log, warnEvery, time.Now)
	var p capture.Packet
	var drops, dropsWarned, readErrors uint64
	var n uint64
	var nextCheck time.Time
	for ctx.Err() == nil {
		err := src.Next(&p)
		switch {
		case err == nil:
			r.packet(&p)
			// A busy link gives no timeouts, and drops come with load: every 1024 packets,
			// once livePoll has passed, do what a timeout does.
			if n++; n&1023 != 0 || time.Now().Before(nextCheck) {
				continue
			}
		case errors.Is(err, capture.ErrTimeout):
		default:
			// A socket error (the interface went down, Npcap lost the adapter) may come back at
			// every read: warn once a minute with a count, pause so as not to spin, keep trying
			// (the interface may come back), and keep ending idle calls meanwhile.
			readErrors++
			warn.Warn("capture read failed; retrying", zap.String("interface", name), zap.Error(err))
			pause(ctx, livePoll)
		}
		now := time.Now()
		nextCheck = now.Add(livePoll)
		drops, dropsWarned = a.checkDrops(src, r, warn, drops, dropsWarned)
		r.tick(now.UnixNano())
		if now.After(nextRefresh) && len(a.local) == 0 {
			if fresh, err := a.liveLocalizer(name); err == nil {
				loc.addrs = fresh.addrs
			}
			nextRefresh = now.Add(addrRefresh)
		}
	}
	r.endAll()
	r.publish(false, nil, src.Stats())
	st := src.Stats()
	fields := []zap.Field{zap.String("interface", name), zap.Uint64("frames", st.Frames),
		zap.Uint64("udp", st.UDP), zap.Uint64("kernel_drops", drops), zap.Int("calls", r.calls)}
	if readErrors > 0 {
		fields = append(fields, zap.Uint64("read_errors", readErrors))
	}
	a.log.Info("capture stopped", fields...)
	return nil
}

// checkDrops reads the kernel's drop counter. Drops overlap the calls in progress: their
// records must not be read as network loss, so the calls carry the count. At most once a minute
// a WARN says how many packets the kernel dropped since the previous one (kernel_drops). It
// returns the counter and its value at the last WARN.
func (a *Agent) checkDrops(src *capture.LiveSource, r *run, warn *warnLimiter, drops, warned uint64) (uint64, uint64) {
	st, err := src.Live()
	if err != nil || st.Dropped <= drops {
		return drops, warned
	}
	r.tracker.addDrops(st.Dropped - drops)
	drops = st.Dropped
	r.drops = drops
	if _, ok := warn.allow(msgKernelDrops); ok {
		a.log.Warn(msgKernelDrops, zap.String("interface", src.Name()),
			zap.Uint64("kernel_drops", drops-warned), zap.Uint64("kernel_drops_total", drops))
		warned = drops
	}
	return drops, warned
}

const msgKernelDrops = "the kernel dropped packets the agent did not read in time; calls in progress carry capture_drops"

// pause waits d or until ctx is done.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// liveLocalizer knows the device's addresses: the configured ones, else the interface's own.
func (a *Agent) liveLocalizer(iface string) (*localizer, error) {
	if len(a.local) > 0 {
		return newLocalizerNets(a.local), nil
	}
	addrs, err := capture.InterfaceAddrs([]string{iface})
	if err != nil {
		return nil, fmt.Errorf("local addresses of %s: %w", iface, err)
	}
	return newLocalizer(addrs), nil
}

func mapKeys(m map[netip.Addr]bool) []netip.Addr {
	out := make([]netip.Addr, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	return out
}
