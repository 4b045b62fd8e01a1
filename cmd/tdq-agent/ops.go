package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/tdq-agent/tdq-agent/agent"
	"github.com/tdq-agent/tdq-agent/agent/ops"
	"github.com/tdq-agent/tdq-agent/capture"
	"github.com/tdq-agent/tdq-agent/uploader"
)

// opsBridge feeds the loopback operations endpoints from the running agent and uploader: a
// snapshot once a second for /metrics, and the state /healthz reports.
type opsBridge struct {
	a    *agent.Agent
	up   *uploader.Uploader
	live bool

	mu     sync.Mutex // guards health: written by the ticker, read by HTTP handlers
	health ops.Health
	prev   uploader.Stats
}

// Health implements ops.StatusSource.
func (b *opsBridge) Health() ops.Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.health
}

// startOps serves the endpoints and feeds them until ctx ends; wait blocks until they stopped.
func startOps(ctx context.Context, cfg ops.Config, log *zap.Logger, a *agent.Agent, up *uploader.Uploader, live bool,
	onUpload *atomic.Pointer[func(time.Duration)]) (wait func(), err error) {
	b := &opsBridge{a: a, up: up, live: live}
	b.health = ops.Health{Capture: ops.CaptureRunning, SpoolWritable: true}
	srv, err := ops.New(cfg, log, b)
	if err != nil {
		return nil, err
	}
	a.SetIdentities(srv.Identities(), cfg.Identity == ops.IdentityRequire, cfg.IdentityWait)
	observe := srv.ObserveUpload
	onUpload.Store(&observe)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx); err != nil {
			log.Error("operations endpoints stopped", zap.Error(err))
		}
	}()
	go func() { // the calls' ends are read from Identities when the agent ticks; drain the signal
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-srv.Identities().Ended():
			}
		}
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				srv.Observe(b.observe())
			}
		}
	}()
	return wg.Wait, nil
}

// observe sums the sources' status into a snapshot and updates the health it implies.
func (b *opsBridge) observe() ops.Snapshot {
	var snap ops.Snapshot
	running, capErr := !b.live, ""
	for _, s := range b.a.Status() {
		snap.Packets.RTP += s.Packets[capture.KindRTP]
		snap.Packets.RTCP += s.Packets[capture.KindRTCP]
		snap.Packets.STUN += s.Packets[capture.KindSTUN]
		snap.Packets.Other += s.Packets[capture.KindOther] + s.Packets[capture.KindDTLS]
		snap.Bytes.RTP += s.Bytes[capture.KindRTP]
		snap.Bytes.RTCP += s.Bytes[capture.KindRTCP]
		snap.Bytes.STUN += s.Bytes[capture.KindSTUN]
		snap.Bytes.Other += s.Bytes[capture.KindOther] + s.Bytes[capture.KindDTLS]
		snap.MalformedRTP += s.Malformed
		snap.MalformedRTCP += s.RTCPErrors
		snap.Streams += s.Streams
		snap.Channels += s.Channels
		snap.Calls += s.Calls
		snap.CaptureDrops += s.CaptureDrops
		if s.Running {
			running = true
		}
		if s.Err != "" {
			capErr = s.Err
		}
	}
	st := b.up.Stats()
	snap.Records = ops.Records{Spooled: st.Spooled, Uploaded: st.Uploaded, Retried: st.Retried,
		DeadLettered: st.DeadLettered, Dropped: st.Dropped, Expired: st.Expired, Corrupt: st.Corrupt,
		Pending: st.Pending, Held: st.Held}
	snap.TokenRenewals = st.TokenRenewals

	b.mu.Lock()
	defer b.mu.Unlock()
	b.health.Capture = ops.CaptureStopped
	if running {
		b.health.Capture = ops.CaptureRunning
	}
	b.health.CaptureError = capErr
	// Records waiting in memory mean the spool refused them: a full or failing disk.
	b.health.SpoolWritable = st.Held == 0
	now := time.Now()
	switch {
	case st.Uploaded > b.prev.Uploaded:
		b.health.LastUpload = &ops.Upload{At: now, Status: "accepted", OK: true}
	case st.DeadLettered > b.prev.DeadLettered:
		b.health.LastUpload = &ops.Upload{At: now, Status: "rejected", OK: false}
	case st.Retried > b.prev.Retried:
		b.health.LastUpload = &ops.Upload{At: now, Status: "failed, will retry", OK: false}
	}
	b.prev = st
	return snap
}
