package uploader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

const (
	// maxHeld bounds the records kept in memory while the spool cannot be written (disk full):
	// about a day of calls on a busy room, a few MB.
	maxHeld = 1000
	// maxIdle caps how long the loop sleeps, so that a wall clock that stepped (NTP, suspend) is
	// noticed within a minute.
	maxIdle = time.Minute
	// requestPoll is how often the loop looks for retry requests from `tdq-agent queue` and for
	// disk space to write held records: an empty directory read, cheap enough to do often.
	requestPoll = 5 * time.Second
	// maxStatus bounds LastStatus in spool files.
	maxStatus = 1024
)

// Option adjusts an Uploader; tests use them to control time and jitter.
type Option func(*Uploader)

// WithClock replaces time.Now for scheduling and record timestamps.
func WithClock(now func() time.Time) Option { return func(u *Uploader) { u.now = now } }

// WithSleep replaces the real wait Flush does between attempts, so tests using WithClock can
// move their clock instead of sleeping.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(u *Uploader) { u.sleep = sleep }
}

// WithJitter replaces the random source of the backoff jitter; rnd returns values in [0, 1).
func WithJitter(rnd func() float64) Option { return func(u *Uploader) { u.backoff.rand = rnd } }

// Stats are counters since New plus two gauges, for the agent's periodic log line.
type Stats struct {
	Spooled      uint64 `json:"spooled"`       // records written to the spool
	Uploaded     uint64 `json:"uploaded"`      // records the sink accepted (and that were deleted)
	Retried      uint64 `json:"retried"`       // failed attempts rescheduled for later
	DeadLettered uint64 `json:"dead_lettered"` // records moved to deadletter/
	Corrupt      uint64 `json:"corrupt"`       // spool files moved to corrupt/
	Dropped      uint64 `json:"dropped"`       // records lost: the oldest, past max_records or max_bytes, or past the in-memory hold while the disk failed
	Expired      uint64 `json:"expired"`       // records moved to deadletter/ for max_age (also counted in DeadLettered)
	Pending      int    `json:"pending"`       // records in the spool now
	Held         int    `json:"held"`          // records in memory waiting for the disk
	// TokenRenewals counts the access tokens the authority issued (0 for the outbox sink).
	TokenRenewals uint64 `json:"token_renewals"`
}

func (u *Uploader) tokenRenewals() uint64 {
	if r, ok := u.sink.(interface{ TokenRenewals() uint64 }); ok {
		return r.TokenRenewals()
	}
	return 0
}

// WithSendObserver has f called after each upload attempt with its duration and outcome (nil on
// success), for the agent's upload-latency metric. f must not block.
func WithSendObserver(f func(d time.Duration, err error)) Option {
	return func(u *Uploader) { u.observe = f }
}

// Uploader moves records from Enqueue through the spool to the sink.
type Uploader struct {
	cfg     Config
	sink    Sink
	spool   *Spool
	log     *zap.Logger
	now     func() time.Time
	observe func(time.Duration, error) // may be nil
	sleep   func(ctx context.Context, d time.Duration) error
	backoff backoff
	wake    chan struct{} // capacity 1: a pending wake-up is enough, more would be redundant

	// sendMu is held for each send and the bookkeeping after it, so records go out one at a
	// time and Run and Flush never send the same record concurrently.
	sendMu sync.Mutex

	// heldMu guards held, and keeps spooling in order: while anything is held, new records
	// queue behind it instead of overtaking it on disk.
	heldMu sync.Mutex
	held   [][]byte

	spooled, uploaded, retried, deadLettered, dropped, expiredN atomic.Uint64
}

// New opens the spool in cfg.SpoolDir and returns an Uploader that delivers through sink. Only
// the settings the uploader itself uses are checked here; the sink was built from the rest.
func New(cfg Config, sink Sink, log *zap.Logger, opts ...Option) (*Uploader, error) {
	if errs := cfg.validateLocal(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if sink == nil {
		return nil, errors.New("new uploader: sink required")
	}
	if log == nil {
		log = zap.NewNop()
	}
	u := &Uploader{
		cfg:     cfg,
		sink:    sink,
		log:     log.With(zap.String("component", "uploader")),
		now:     time.Now,
		sleep:   sleepReal,
		backoff: backoff{min: cfg.RetryMin, max: cfg.RetryMax, rand: rand.Float64},
		wake:    make(chan struct{}, 1),
	}
	for _, opt := range opts {
		opt(u)
	}
	spool, err := OpenSpool(cfg.SpoolDir, u.log)
	if err != nil {
		return nil, err
	}
	spool.now = u.now
	spool.limits = limits{maxRecords: cfg.MaxRecords, maxBytes: int64(cfg.MaxBytes), minFreeBytes: int64(cfg.MinFreeBytes)}
	u.spool = spool
	n, size := spool.usage()
	u.log.Info("spool opened", zap.String("dir", cfg.SpoolDir), zap.Int("pending", n), zap.Stringer("bytes", ByteSize(size)),
		zap.Uint64("corrupt", spool.corrupt.Load()))
	return u, nil
}

// Close releases the spool's lock so another process may own it; records stay on disk. Run and
// Flush must have returned.
func (u *Uploader) Close() error { return u.spool.Close() }

// Enqueue stores a record and wakes the loop. When it returns nil the record is on disk, or,
// if the disk refused it, held in memory and retried by the loop; the caller has nothing more to
// do either way. It returns an error only for a body that could never be sent (not JSON).
func (u *Uploader) Enqueue(body []byte) error {
	if !json.Valid(bytes.TrimSpace(body)) {
		return errors.New("enqueue record: body is not valid JSON")
	}
	defer u.kick()
	u.heldMu.Lock()
	defer u.heldMu.Unlock()
	if len(u.held) == 0 {
		e, err := u.spool.Put(body)
		if err == nil {
			u.spooled.Add(1)
			u.log.Debug("record spooled", zap.String("id", e.ID))
			return nil
		}
		u.log.Warn("spool write failed; holding record in memory", zap.Error(err))
	}
	if len(u.held) >= maxHeld {
		u.held[0] = nil
		u.held = u.held[1:]
		u.dropped.Add(1)
		u.log.Error("in-memory hold list full; dropped the oldest record", zap.Int("limit", maxHeld))
	}
	u.held = append(u.held, bytes.Clone(body))
	return nil
}

// spoolHeld moves held records to disk, oldest first, stopping at the first failure.
func (u *Uploader) spoolHeld() {
	u.heldMu.Lock()
	defer u.heldMu.Unlock()
	for len(u.held) > 0 {
		e, err := u.spool.Put(u.held[0])
		if err != nil {
			return // still failing; logged once when the record was held, tried again next turn
		}
		u.held[0] = nil
		u.held = u.held[1:]
		u.spooled.Add(1)
		u.log.Info("held record spooled", zap.String("id", e.ID), zap.Int("still_held", len(u.held)))
	}
}

func (u *Uploader) kick() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Run delivers records until ctx is done: due records oldest first, one at a time, then it sleeps
// until the next one is due or Enqueue wakes it. It returns nil once ctx is done and the send in
// flight, if any, has finished or timed out; it never deletes or drains records on the way out.
func (u *Uploader) Run(ctx context.Context) error {
	for {
		u.spoolHeld()
		u.sendMu.Lock()
		u.spool.applyRequests()
		u.sendMu.Unlock()
		wait := u.sendDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		t := time.NewTimer(min(wait, requestPoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-u.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// sendDue sends every due record and returns how long until the next one is due.
func (u *Uploader) sendDue(ctx context.Context) time.Duration {
	for ctx.Err() == nil {
		u.sendMu.Lock()
		now := u.now()
		e, wait, ok := u.nextDue(now, nil)
		if !ok {
			u.sendMu.Unlock()
			return wait
		}
		if u.expired(e, now) {
			u.expire(e)
		} else {
			u.send(ctx, e)
		}
		u.sendMu.Unlock()
	}
	return 0
}

// Flush delivers what it can for a caller about to exit, e.g. at the end of a file replay. It
// moves held records to disk if it can, sends every due record oldest first (one never attempted
// is due whatever its NextAttempt), then waits for the next record to come due and tries again,
// until the spool is empty, ctx ends or cfg.FlushTimeout has passed (on the uploader's clock).
// Outcomes are applied exactly as Run applies them: accepted records are deleted, rejected ones
// dead-lettered, failed ones rescheduled with backoff. It returns nil once nothing is pending,
// else an error saying how many records stay spooled for the next run. A send in flight when
// time runs out is finished, bounded by the sink's own timeout, so its outcome is recorded.
// Flush may run while Run runs; they take turns sending.
func (u *Uploader) Flush(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.FlushTimeout)
	defer cancel()
	deadline := u.now().Add(u.cfg.FlushTimeout)
	for {
		u.spoolHeld()
		if ctx.Err() == nil && u.now().Before(deadline) {
			u.sendDue(ctx)
		}
		left := u.spool.len() + u.heldLen()
		if left == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("flush spool: %d records left for the next run: %w", left, err)
		}
		_, wait, _ := u.nextDue(u.now(), nil)
		if rest := deadline.Sub(u.now()); wait > rest {
			if rest <= 0 {
				return fmt.Errorf("flush spool: %d records left for the next run: flush_timeout %s passed", left, u.cfg.FlushTimeout)
			}
			wait = rest
		}
		if err := u.sleep(ctx, wait); err != nil {
			return fmt.Errorf("flush spool: %d records left for the next run: %w", left, err)
		}
	}
}

func (u *Uploader) heldLen() int {
	u.heldMu.Lock()
	defer u.heldMu.Unlock()
	return len(u.held)
}

// sleepReal waits for d or until ctx ends.
func sleepReal(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// nextDue returns the oldest due record not in skip, or how long until the earliest one is due.
func (u *Uploader) nextDue(now time.Time, skip map[string]bool) (Entry, time.Duration, bool) {
	wait := maxIdle
	for _, e := range u.spool.Pending() {
		if skip[e.ID] {
			continue
		}
		if e.Attempts == 0 || !e.NextAttempt.After(now) {
			return e, 0, true
		}
		wait = min(wait, e.NextAttempt.Sub(now))
	}
	return Entry{}, wait, false
}

// send makes one attempt and records its outcome. The send is detached from ctx's cancellation:
// cutting off a request Graph may already have accepted would only cause a duplicate.
func (u *Uploader) send(ctx context.Context, e Entry) {
	info := &sendInfo{ID: e.ID}
	start := u.now()
	err := u.sink.Send(withSendInfo(context.WithoutCancel(ctx), info), e.Body)
	if u.observe != nil {
		u.observe(u.now().Sub(start), err)
	}
	e.Attempts++
	if err == nil {
		u.uploaded.Add(1)
		if derr := u.spool.Delete(e.ID); derr != nil {
			u.log.Error("accepted record could not be deleted from the spool; it may be sent again after a restart",
				zap.String("id", e.ID), zap.Error(derr))
		}
		if info.File != "" {
			u.log.Info("record uploaded", zap.String("id", e.ID), zap.String("outbox_file", info.File),
				zap.Int("attempt", e.Attempts))
		} else {
			u.log.Info("record uploaded", zap.String("id", e.ID), zap.Int("status", info.Status),
				zap.String("request_id", info.RequestID), zap.Int("attempt", e.Attempts))
		}
		return
	}
	if pe, ok := errors.AsType[*PermanentError](err); ok {
		u.deadLetter(e, pe)
		return
	}
	u.retry(e, err)
}

// expired says whether a due record has used up max_age. One never attempted is tried once
// whatever its age (a device that was off for a week still sends what it spooled, and a record
// an operator requeued gets its attempt), so a record is only given up after Graph has had a
// chance to take it.
func (u *Uploader) expired(e Entry, now time.Time) bool {
	return e.Attempts > 0 && now.Sub(e.CreatedAt) > u.cfg.MaxAge
}

// expire gives up on a record past max_age: it moves to deadletter/ with the reason, where
// `tdq-agent queue retry` can bring it back; it is never dropped silently.
func (u *Uploader) expire(e Entry) {
	last := e.LastStatus
	e.LastStatus = truncate(fmt.Sprintf("expired: not accepted within max_age %s after %d attempts; last status: %s",
		u.cfg.MaxAge, e.Attempts, last), maxStatus)
	u.deadLettered.Add(1)
	u.expiredN.Add(1)
	fields := []zap.Field{zap.String("id", e.ID), zap.Time("created_at", e.CreatedAt), zap.Int("attempts", e.Attempts),
		zap.Duration("max_age", u.cfg.MaxAge), zap.String("last_status", last)}
	if err := u.spool.deadLetter(e); err != nil {
		fields = append(fields, zap.NamedError("spool_error", err))
	}
	u.log.Error("record expired; moved to deadletter", fields...)
}

func (u *Uploader) deadLetter(e Entry, pe *PermanentError) {
	e.LastStatus = truncate(pe.Error(), maxStatus)
	u.deadLettered.Add(1)
	fields := []zap.Field{
		zap.String("id", e.ID), zap.Int("status", pe.Status), zap.String("code", pe.Code),
		zap.String("message", pe.Message), zap.String("request_id", pe.RequestID), zap.Int("attempt", e.Attempts),
	}
	if err := u.spool.deadLetter(e); err != nil {
		fields = append(fields, zap.NamedError("spool_error", err))
	}
	u.log.Error("record rejected by graph; moved to deadletter", fields...)
}

// retry reschedules after any failure that is not permanent, including errors a sink did not
// classify: when unsure, keep the record.
func (u *Uploader) retry(e Entry, err error) {
	var status int
	var after time.Duration
	if re, ok := errors.AsType[*RetryableError](err); ok {
		status, after = re.Status, re.RetryAfter
	}
	var requestID string
	if ae, ok := errors.AsType[*apiError](err); ok {
		requestID = ae.RequestID
	}
	e.NextAttempt = u.now().Add(u.backoff.delay(e.Attempts, after)).UTC().Round(0)
	e.LastStatus = truncate(err.Error(), maxStatus)
	u.retried.Add(1)
	fields := []zap.Field{
		zap.String("id", e.ID), zap.Int("status", status), zap.Int("attempt", e.Attempts),
		zap.Time("next_attempt", e.NextAttempt), zap.Duration("retry_after", after),
		zap.String("request_id", requestID), zap.Error(err),
	}
	if uerr := u.spool.Update(e); uerr != nil {
		fields = append(fields, zap.NamedError("spool_error", uerr))
	}
	u.log.Warn("upload failed; will retry", fields...)
}

// Stats returns a snapshot of the counters.
func (u *Uploader) Stats() Stats {
	u.heldMu.Lock()
	held := len(u.held)
	u.heldMu.Unlock()
	return Stats{
		Spooled:       u.spooled.Load(),
		Uploaded:      u.uploaded.Load(),
		Retried:       u.retried.Load(),
		DeadLettered:  u.deadLettered.Load(),
		Expired:       u.expiredN.Load(),
		Corrupt:       u.spool.corrupt.Load(),
		Dropped:       u.dropped.Load() + u.spool.dropped.Load(),
		Pending:       u.spool.len(),
		Held:          held,
		TokenRenewals: u.tokenRenewals(),
	}
}
