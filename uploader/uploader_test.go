package uploader

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// fakeSink answers each body through answer and records what it was sent and when.
type fakeSink struct {
	clk    *fakeClock
	answer func(n int, body string) error // n counts calls from 1
	block  chan struct{}                  // when set, Send waits for it to close
	sent   chan string                    // receives each body as Send starts

	mu    sync.Mutex
	calls []fakeCall
}

type fakeCall struct {
	body   string
	at     time.Time
	ctxErr error // ctx.Err() when Send returned
}

func newFakeSink(clk *fakeClock, answer func(n int, body string) error) *fakeSink {
	return &fakeSink{clk: clk, answer: answer, sent: make(chan string, 100)}
}

func (f *fakeSink) Send(ctx context.Context, body []byte) error {
	f.sent <- string(body)
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{string(body), f.clk.Now(), ctx.Err()})
	if f.answer == nil {
		return nil
	}
	return f.answer(len(f.calls), string(body))
}

func (f *fakeSink) called() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.SpoolDir = dir
	return cfg
}

func newTestUploader(t *testing.T, dir string, sink Sink, clk *fakeClock, log *zap.Logger) *Uploader {
	t.Helper()
	u, err := New(testConfig(dir), sink, log, WithClock(clk.Now), WithJitter(func() float64 { return 0.5 }),
		WithSleep(func(ctx context.Context, d time.Duration) error {
			clk.Advance(d)
			return ctx.Err()
		}))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func mustEnqueue(t *testing.T, u *Uploader, body string) {
	t.Helper()
	if err := u.Enqueue([]byte(body)); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		name       string
		attempt    int
		rand       float64
		retryAfter time.Duration
		want       time.Duration
	}{
		{"first failure, lowest draw is the floor", 1, 0, 0, 5 * time.Second},
		{"first failure, middle draw", 1, 0.5, 0, 7500 * time.Millisecond},  // ceil 10s
		{"third failure, middle draw", 3, 0.5, 0, 22500 * time.Millisecond}, // ceil 40s
		{"many failures reach the cap", 20, 0.5, 0, 5*time.Second + 895*time.Second/2},
		{"huge attempt count does not overflow", 1 << 30, 0.999, 0, 5*time.Second + time.Duration(0.999*float64(895*time.Second))},
		{"longer retry-after wins", 1, 0.5, time.Hour, time.Hour},
		{"shorter retry-after loses", 1, 0.5, time.Second, 7500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := backoff{min: 5 * time.Second, max: 15 * time.Minute, rand: func() float64 { return tt.rand }}
			if got := b.delay(tt.attempt, tt.retryAfter); got != tt.want {
				t.Errorf("delay(%d, %v) = %v, want %v", tt.attempt, tt.retryAfter, got, tt.want)
			}
		})
	}
}

func TestUploaderRetriesAtBackoffThenDeletes(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	t0 := clk.Now()
	sink := newFakeSink(clk, func(n int, _ string) error {
		if n == 1 {
			return &RetryableError{Status: 503, Err: &apiError{Status: 503, Code: "serviceNotAvailable", RequestID: "r503"}}
		}
		return nil
	})
	log, logs := observed()
	u := newTestUploader(t, dir, sink, clk, log)
	ctx := context.Background()
	mustEnqueue(t, u, `{"quality":{"n":1}}`)

	// First attempt fails: with jitter 0.5 the first delay is 5s + 0.5·(10s−5s) = 7.5s.
	if wait := u.sendDue(ctx); wait != 7500*time.Millisecond {
		t.Errorf("wait after the 503 = %v, want 7.5s", wait)
	}
	pending := u.spool.Pending()
	if len(pending) != 1 {
		t.Fatalf("%d pending after a retryable failure, want 1", len(pending))
	}
	e := pending[0]
	if e.Attempts != 1 || !e.NextAttempt.Equal(t0.Add(7500*time.Millisecond)) {
		t.Errorf("after the 503: attempts %d next %v, want 1 and %v", e.Attempts, e.NextAttempt, t0.Add(7500*time.Millisecond))
	}
	mustContain(t, e.LastStatus, "503")
	// The schedule is on disk too: a restart must not retry at once.
	if re := onDisk(t, dir); len(re) != 1 || re[0].Attempts != 1 || !re[0].NextAttempt.Equal(e.NextAttempt) {
		t.Errorf("reopened spool = %+v, want the rescheduled entry", re)
	}
	warns := entriesWith(logs, "upload failed; will retry")
	if len(warns) != 1 || warns[0].Level != zapcore.WarnLevel {
		t.Fatalf("want one WARN retry line, got %v", warns)
	}
	f := warns[0].ContextMap()
	if f["status"] != int64(503) || f["attempt"] != int64(1) || f["request_id"] != "r503" || f["component"] != "uploader" {
		t.Errorf("retry line fields = %v", f)
	}

	// Not yet due.
	clk.Advance(7 * time.Second)
	if wait := u.sendDue(ctx); wait != 500*time.Millisecond {
		t.Errorf("wait at 7s = %v, want 500ms", wait)
	}
	if n := len(sink.called()); n != 1 {
		t.Fatalf("sink called %d times before the retry was due, want 1", n)
	}

	clk.Advance(500 * time.Millisecond)
	u.sendDue(ctx)
	calls := sink.called()
	if len(calls) != 2 || !calls[1].at.Equal(t0.Add(7500*time.Millisecond)) {
		t.Fatalf("calls = %+v, want a second call at t0+7.5s", calls)
	}
	if n := len(u.spool.Pending()); n != 0 {
		t.Errorf("%d pending after the 200, want 0", n)
	}
	if names := dirNames(t, filepath.Join(dir, dirPending)); len(names) != 0 {
		t.Errorf("pending/ still holds %v", names)
	}
	ok := entriesWith(logs, "record uploaded")
	if len(ok) != 1 || ok[0].Level != zapcore.InfoLevel || ok[0].ContextMap()["id"] != e.ID || ok[0].ContextMap()["attempt"] != int64(2) {
		t.Errorf("success lines = %v", ok)
	}
	st := u.Stats()
	if st.Spooled != 1 || st.Retried != 1 || st.Uploaded != 1 || st.Pending != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestUploaderRetryAfterWinsOverBackoff(t *testing.T) {
	clk := newFakeClock()
	sink := newFakeSink(clk, func(int, string) error {
		return &RetryableError{Status: 429, RetryAfter: 10 * time.Minute, Err: errors.New("throttled")}
	})
	u := newTestUploader(t, t.TempDir(), sink, clk, nil)
	mustEnqueue(t, u, `{"quality":{}}`)
	u.sendDue(context.Background())
	if e := u.spool.Pending()[0]; !e.NextAttempt.Equal(clk.Now().Add(10 * time.Minute)) {
		t.Errorf("NextAttempt = %v, want now+10m from Retry-After", e.NextAttempt)
	}
}

func TestUploaderDeadLettersPermanentErrors(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	sink := newFakeSink(clk, func(int, string) error {
		return &PermanentError{Status: 400, Code: "BadRequest", Message: "Invalid quality record", RequestID: "r400"}
	})
	log, logs := observed()
	u := newTestUploader(t, dir, sink, clk, log)
	body := `{"quality":{"n":1}}`
	mustEnqueue(t, u, body)
	id := u.spool.Pending()[0].ID

	if wait := u.sendDue(context.Background()); wait != maxIdle {
		t.Errorf("wait with nothing pending = %v, want %v", wait, maxIdle)
	}
	if n := len(u.spool.Pending()); n != 0 {
		t.Errorf("%d pending after a permanent error, want 0", n)
	}
	if names := dirNames(t, filepath.Join(dir, dirPending)); len(names) != 0 {
		t.Errorf("pending/ still holds %v", names)
	}
	data, err := os.ReadFile(filepath.Join(dir, dirDeadLetter, id+".json"))
	if err != nil {
		t.Fatalf("dead-letter file: %v", err)
	}
	dl, err := decodeEntry(id, data)
	if err != nil {
		t.Fatalf("dead-letter file does not decode: %v", err)
	}
	if string(dl.Body) != body || dl.Attempts != 1 {
		t.Errorf("dead-letter entry = %+v", dl)
	}
	mustContain(t, dl.LastStatus, "BadRequest")
	mustContain(t, dl.LastStatus, "r400")

	errs := entriesWith(logs, "record rejected by graph; moved to deadletter")
	if len(errs) != 1 || errs[0].Level != zapcore.ErrorLevel {
		t.Fatalf("want one ERROR dead-letter line, got %v", errs)
	}
	f := errs[0].ContextMap()
	if f["code"] != "BadRequest" || f["request_id"] != "r400" || f["message"] != "Invalid quality record" || f["id"] != id {
		t.Errorf("dead-letter line fields = %v", f)
	}
	if st := u.Stats(); st.DeadLettered != 1 || st.Pending != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if n := len(onDisk(t, dir)); n != 0 {
		t.Errorf("reopened spool has %d pending", n)
	}
	if n := len(sink.called()); n != 1 {
		t.Errorf("sink called %d times, want 1", n)
	}
}

func TestUploaderFlush(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	sink := newFakeSink(clk, func(_ int, body string) error {
		if body == `{"quality":"b"}` {
			return &RetryableError{Status: 503, Err: errors.New("unavailable")}
		}
		return nil
	})
	u := newTestUploader(t, dir, sink, clk, nil)

	// d failed before and is not due yet: Flush leaves it alone.
	mustEnqueue(t, u, `{"quality":"d"}`)
	d := u.spool.Pending()[0]
	d.Attempts, d.NextAttempt = 1, clk.Now().Add(time.Hour)
	if err := u.spool.Update(d); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, u, `{"quality":"a"}`)
	mustEnqueue(t, u, `{"quality":"b"}`)
	// e was spooled while the clock ran an hour ahead; never attempted, so due anyway.
	clk.Advance(time.Hour)
	mustEnqueue(t, u, `{"quality":"e"}`)
	clk.Advance(-time.Hour)
	mustEnqueue(t, u, `{"quality":"c"}`)

	// b keeps failing: Flush retries it at its backoff times until flush_timeout (30 s on the
	// test clock) has passed, then says what it left behind.
	start := clk.Now()
	err := u.Flush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "2 records left") {
		t.Fatalf("Flush = %v, want an error saying 2 records are left", err)
	}
	var order []string
	for _, c := range sink.called() {
		order = append(order, c.body)
		if c.at.Sub(start) > testConfig(dir).FlushTimeout {
			t.Errorf("%s sent %s after the flush began, past flush_timeout", c.body, c.at.Sub(start))
		}
	}
	want := []string{`{"quality":"a"}`, `{"quality":"b"}`, `{"quality":"e"}`, `{"quality":"c"}`}
	if len(order) < 5 || !slices.Equal(order[:4], want) {
		t.Fatalf("Flush sent %v, want %v first (oldest first, d not due) and then b again", order, want)
	}
	for _, b := range order[4:] {
		if b != `{"quality":"b"}` {
			t.Errorf("after the first pass Flush sent %s, want only b's retries", b)
		}
	}
	var left []string
	for _, e := range onDisk(t, dir) {
		left = append(left, string(e.Body))
	}
	if !slices.Equal(left, []string{`{"quality":"d"}`, `{"quality":"b"}`}) {
		t.Errorf("left on disk = %v, want d and b", left)
	}

	// A Flush whose context has already ended sends nothing and says why.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	clk.Advance(2 * time.Hour)
	if err := u.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush with a cancelled context = %v, want context.Canceled", err)
	}
	if n := len(sink.called()); n != len(order) {
		t.Errorf("sink called %d times, want still %d", n, len(order))
	}
}

// TestUploaderFlushRetriesUntilDelivered: a record that fails once is retried at its backoff
// time within flush_timeout, and Flush then reports an empty spool.
func TestUploaderFlushRetriesUntilDelivered(t *testing.T) {
	clk := newFakeClock()
	sink := newFakeSink(clk, func(n int, _ string) error {
		if n == 1 {
			return &RetryableError{Status: 503, Err: errors.New("unavailable")}
		}
		return nil
	})
	u := newTestUploader(t, t.TempDir(), sink, clk, nil)
	mustEnqueue(t, u, `{"quality":"x"}`)
	start := clk.Now()
	if err := u.Flush(context.Background()); err != nil {
		t.Fatalf("Flush = %v, want nil once the retry succeeded", err)
	}
	calls := sink.called()
	if len(calls) != 2 {
		t.Fatalf("sink called %d times, want 2", len(calls))
	}
	// Backoff after the first failure with the jitter fixed at 0.5: 7.5 s (TestBackoffDelay).
	if got := calls[1].at.Sub(start); got != 7500*time.Millisecond {
		t.Errorf("retry after %s, want 7.5s", got)
	}
	if st := u.Stats(); st.Pending != 0 || st.Uploaded != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestUploaderRunDeliversUntilCancelled(t *testing.T) {
	clk := newFakeClock()
	sink := newFakeSink(clk, nil)
	u := newTestUploader(t, t.TempDir(), sink, clk, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()

	mustEnqueue(t, u, `{"quality":1}`)
	waitSent(t, sink, `{"quality":1}`)
	mustEnqueue(t, u, `{"quality":2}`)
	waitSent(t, sink, `{"quality":2}`)

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil on shutdown", err)
	}
	if st := u.Stats(); st.Uploaded != 2 || st.Pending != 0 {
		t.Errorf("Stats = %+v, want 2 uploaded", st)
	}
}

func waitSent(t *testing.T, sink *fakeSink, want string) {
	t.Helper()
	select {
	case got := <-sink.sent:
		if got != want {
			t.Errorf("sent %s, want %s", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s not sent within 5s", want)
	}
}

// Shutdown lets the send in flight finish with a live context, records its outcome, starts no
// other send, and leaves the rest on disk.
func TestUploaderShutdownFinishesInFlightAndKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	sink := newFakeSink(clk, nil)
	sink.block = make(chan struct{})
	u := newTestUploader(t, dir, sink, clk, nil)
	mustEnqueue(t, u, `{"quality":1}`)
	mustEnqueue(t, u, `{"quality":2}`)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	waitSent(t, sink, `{"quality":1}`)
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while a send was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(sink.block)
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}

	calls := sink.called()
	if len(calls) != 1 || calls[0].ctxErr != nil {
		t.Errorf("calls = %+v, want one, with a context that was not cancelled", calls)
	}
	left := onDisk(t, dir)
	if len(left) != 1 || string(left[0].Body) != `{"quality":2}` || left[0].Attempts != 0 {
		t.Errorf("left on disk = %+v, want only the untouched second record", left)
	}
}

func TestUploaderHoldsRecordsWhileDiskFails(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	log, logs := observed()
	u := newTestUploader(t, dir, newFakeSink(clk, nil), clk, log)

	// A file where tmp/ should be makes every spool write fail, as a full disk would.
	tmp := filepath.Join(dir, dirTmp)
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{`{"quality":1}`, `{"quality":2}`} {
		if err := u.Enqueue([]byte(b)); err != nil {
			t.Fatalf("Enqueue with a failing disk = %v, want nil (held)", err)
		}
	}
	if st := u.Stats(); st.Held != 2 || st.Pending != 0 {
		t.Errorf("Stats with a failing disk = %+v, want 2 held", st)
	}
	if n := len(entriesWith(logs, "spool write failed; holding record in memory")); n != 1 {
		t.Errorf("%d hold warnings, want 1", n)
	}
	u.spoolHeld() // still failing: nothing lost
	if st := u.Stats(); st.Held != 2 {
		t.Errorf("held after a failed retry = %d, want 2", st.Held)
	}

	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	u.spoolHeld()
	var bodies []string
	for _, e := range onDisk(t, dir) {
		bodies = append(bodies, string(e.Body))
	}
	if !slices.Equal(bodies, []string{`{"quality":1}`, `{"quality":2}`}) {
		t.Errorf("spooled after recovery = %v, want both in order", bodies)
	}
	if st := u.Stats(); st.Held != 0 || st.Spooled != 2 {
		t.Errorf("Stats after recovery = %+v", st)
	}
}

func TestUploaderHoldListIsBounded(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	u := newTestUploader(t, dir, newFakeSink(clk, nil), clk, nil)
	tmp := filepath.Join(dir, dirTmp)
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range maxHeld + 1 {
		mustEnqueue(t, u, `{"n":`+string(rune('0'+i%10))+`}`)
	}
	if st := u.Stats(); st.Held != maxHeld || st.Dropped != 1 {
		t.Errorf("Stats = %+v, want %d held and 1 dropped", st, maxHeld)
	}
	if got := string(u.held[0]); got != `{"n":1}` {
		t.Errorf("oldest held = %s, want the second record (the first was dropped)", got)
	}
}

func TestEnqueueRejectsInvalidJSON(t *testing.T) {
	clk := newFakeClock()
	u := newTestUploader(t, t.TempDir(), newFakeSink(clk, nil), clk, nil)
	if err := u.Enqueue([]byte(`{"quality":`)); err == nil {
		t.Error("Enqueue of broken JSON succeeded")
	}
	if st := u.Stats(); st.Pending != 0 || st.Held != 0 {
		t.Errorf("Stats = %+v, want nothing stored", st)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.RetryMin = 0
	if _, err := New(cfg, newFakeSink(newFakeClock(), nil), nil); err == nil {
		t.Error("New with retry_min 0 succeeded")
	}
	if _, err := New(testConfig(t.TempDir()), nil, nil); err == nil {
		t.Error("New without a sink succeeded")
	}
}
