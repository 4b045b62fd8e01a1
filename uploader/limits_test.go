package uploader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
)

func TestSpoolLockRefusesSecondOwner(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, nil)
	start := time.Now()
	_, err := openSpool(dir, nil, 200*time.Millisecond)
	le, ok := errors.AsType[*LockedError](err)
	if !ok {
		t.Fatalf("second OpenSpool = %v, want a LockedError", err)
	}
	if le.PID != os.Getpid() {
		t.Errorf("LockedError names pid %d, want ours (%d)", le.PID, os.Getpid())
	}
	mustContain(t, err.Error(), fmt.Sprintf("in use by another tdq-agent (pid %d)", os.Getpid()))
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("gave up after %v, want to wait for the holder for 200ms", waited)
	}
	// Once released, the next owner gets it at once.
	s.Close()
	s2, err := openSpool(dir, nil, 0)
	if err != nil {
		t.Fatalf("OpenSpool after Close: %v", err)
	}
	s2.Close()
}

// A leftover temp file belongs to whoever holds the lock: a second agent that is refused must
// not have cleaned the owner's tmp/.
func TestSpoolRefusedOpenLeavesTmpAlone(t *testing.T) {
	dir := t.TempDir()
	openTestSpool(t, dir, nil)
	half := filepath.Join(dir, dirTmp, "x.json.1.tmp")
	if err := os.WriteFile(half, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openSpool(dir, nil, 0); err == nil {
		t.Fatal("second open succeeded")
	}
	if _, err := os.Stat(half); err != nil {
		t.Errorf("the owner's temp file is gone: %v", err)
	}
}

func TestSpoolCapsDropOldest(t *testing.T) {
	body := `{"quality":{"n":"` + strings.Repeat("x", 900) + `"}}`
	tests := []struct {
		name   string
		limits limits
		cap    string
	}{
		{"max_records", limits{maxRecords: 3}, "max_records"},
		{"max_bytes", limits{maxBytes: 3 * 1300}, "max_bytes"}, // three files of about 1.2 KB
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log, logs := observed()
			s, err := OpenSpool(dir, log)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.limits = tt.limits
			var all []string
			for range 5 {
				all = append(all, mustPut(t, s, body).ID)
			}
			if got := ids(s.Pending()); !slices.Equal(got, all[2:]) {
				t.Errorf("Pending = %v, want the newest three %v", got, all[2:])
			}
			if got := dirNames(t, filepath.Join(dir, dirPending)); len(got) != 3 {
				t.Errorf("pending/ holds %v, want 3 files", got)
			}
			if n := s.dropped.Load(); n != 2 {
				t.Errorf("dropped = %d, want 2", n)
			}
			warns := entriesWith(logs, "spool full; dropped the oldest record")
			if len(warns) != 2 || warns[0].Level != zapcore.WarnLevel || warns[0].ContextMap()["id"] != all[0] ||
				warns[0].ContextMap()["cap"] != tt.cap || warns[1].ContextMap()["id"] != all[1] {
				t.Errorf("drop lines = %v", warns)
			}
			if n, size := s.usage(); n != 3 || size != dirSize(t, filepath.Join(dir, dirPending)) {
				t.Errorf("usage = %d records %d bytes, want what is on disk", n, size)
			}
		})
	}
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	for _, name := range dirNames(t, dir) {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n += info.Size()
	}
	return n
}

// A record that failed and is older than max_age goes to deadletter/ with the reason instead of
// being sent again; one never attempted gets its attempt whatever its age.
func TestUploaderExpiresOldRecords(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	fails := func(int, string) error { return &RetryableError{Status: 503, Err: errors.New("unavailable")} }
	sink := newFakeSink(clk, fails)
	log, logs := observed()
	u := newTestUploader(t, dir, sink, clk, log)
	mustEnqueue(t, u, `{"quality":"old"}`)
	clk.Advance(8 * 24 * time.Hour) // the device was off for 8 days
	mustEnqueue(t, u, `{"quality":"new"}`)

	u.sendDue(context.Background()) // both tried once: the old one was never attempted
	if n := len(sink.called()); n != 2 {
		t.Fatalf("sink called %d times, want 2", n)
	}
	clk.Advance(time.Hour)
	u.sendDue(context.Background())
	calls := sink.called()
	if len(calls) != 3 || calls[2].body != `{"quality":"new"}` {
		t.Fatalf("second pass sent %v, want only the new record", calls[2:])
	}
	left := onDisk(t, dir)
	if len(left) != 1 || string(left[0].Body) != `{"quality":"new"}` {
		t.Errorf("pending = %+v, want the new record", left)
	}
	dead := dirNames(t, filepath.Join(dir, dirDeadLetter))
	if len(dead) != 1 {
		t.Fatalf("deadletter/ = %v", dead)
	}
	data, _ := os.ReadFile(filepath.Join(dir, dirDeadLetter, dead[0]))
	e, err := decodeEntry(strings.TrimSuffix(dead[0], ".json"), data)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, e.LastStatus, "expired: not accepted within max_age 168h0m0s after 1 attempts")
	mustContain(t, e.LastStatus, "unavailable")
	if l := entriesWith(logs, "record expired; moved to deadletter"); len(l) != 1 || l[0].Level != zapcore.ErrorLevel {
		t.Errorf("expiry lines = %v", l)
	}
	if st := u.Stats(); st.Expired != 1 || st.DeadLettered != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

// `queue retry` while the uploader runs: the request is applied by the running loop (no file of
// the owner's is touched by the command), a dead-lettered record comes back, a waiting one is
// sent now, and the request file is gone afterwards.
func TestRetryRequestAppliedByRunningUploader(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	reject := true
	sink := newFakeSink(clk, func(_ int, body string) error {
		if body == `{"quality":"dead"}` && reject {
			reject = false
			return &PermanentError{Status: 400, Code: "BadRequest"}
		}
		if body == `{"quality":"slow"}` {
			return &RetryableError{Status: 503, Err: errors.New("unavailable")}
		}
		return nil
	})
	u := newTestUploader(t, dir, sink, clk, nil)
	mustEnqueue(t, u, `{"quality":"dead"}`)
	mustEnqueue(t, u, `{"quality":"slow"}`)
	u.sendDue(context.Background())
	deadID := strings.TrimSuffix(dirNames(t, filepath.Join(dir, dirDeadLetter))[0], ".json")

	res, err := RequestRetry(dir, deadID)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Queued || res.PID != os.Getpid() || res.Applied != 0 {
		t.Errorf("RequestRetry = %+v, want queued for the running owner (our pid)", res)
	}
	if _, err := RequestRetry(dir, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := RequestRetry(dir, "20250101T000000.000000000Z-00000000"); err == nil {
		t.Error("retry of an unknown id succeeded")
	}
	if _, err := RequestRetry(dir, "../x"); err == nil {
		t.Error("retry of a path succeeded")
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	waitSent(t, sink, `{"quality":"dead"}`) // first pass of the earlier sendDue
	waitSent(t, sink, `{"quality":"slow"}`)
	waitSent(t, sink, `{"quality":"dead"}`) // requeued from deadletter/ and accepted
	waitSent(t, sink, `{"quality":"slow"}`) // requeued by --all: sent now, not at its backoff
	cancel()
	<-done
	if left := dirNames(t, filepath.Join(dir, dirRequests)); len(left) != 0 {
		t.Errorf("requests/ still holds %v", left)
	}
	if left := dirNames(t, filepath.Join(dir, dirDeadLetter)); len(left) != 0 {
		t.Errorf("deadletter/ still holds %v", left)
	}
	if disk := onDisk(t, dir); len(disk) != 1 || disk[0].Attempts != 1 || !strings.Contains(disk[0].LastStatus, "unavailable") {
		t.Errorf("pending = %+v, want slow with one attempt since the requeue", disk)
	}
}

// With no agent running, `queue retry` applies the request itself, under the lock.
func TestRetryRequestAppliedWithoutAgent(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, nil)
	e := mustPut(t, s, `{"quality":1}`)
	e.Attempts, e.NextAttempt, e.LastStatus = 4, e.NextAttempt.Add(time.Hour), "503 serviceNotAvailable"
	if err := s.Update(e); err != nil {
		t.Fatal(err)
	}
	if err := s.deadLetter(e); err != nil {
		t.Fatal(err)
	}
	s.Close()
	res, err := RequestRetry(dir, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Queued || res.Applied != 1 {
		t.Errorf("RequestRetry = %+v, want applied at once", res)
	}
	disk := onDisk(t, dir)
	if len(disk) != 1 || disk[0].ID != e.ID || disk[0].Attempts != 0 || disk[0].NextAttempt.After(time.Now()) {
		t.Fatalf("pending = %+v, want the record due now with attempts reset", disk)
	}
	mustContain(t, disk[0].LastStatus, "requeued by operator after 4 attempts; last status: 503 serviceNotAvailable")
	if left := dirNames(t, filepath.Join(dir, dirDeadLetter)); len(left) != 0 {
		t.Errorf("deadletter/ still holds %v", left)
	}
}

func TestQueueListShowPurge(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, nil)
	p := mustPut(t, s, `{"quality":"p"}`)
	d := mustPut(t, s, `{"quality":"d"}`)
	d.LastStatus = "graph rejected the record: 400 BadRequest"
	if err := s.deadLetter(d); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dirCorrupt, "junk.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	items, err := ListQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.State+":"+it.Entry.ID)
		if it.Entry.Body != nil {
			t.Errorf("list carries a body")
		}
	}
	if want := []string{"pending:" + p.ID, "deadletter:" + d.ID, "corrupt:junk"}; !slices.Equal(got, want) {
		t.Errorf("ListQueue = %v, want %v", got, want)
	}
	if items[2].Err == nil {
		t.Error("corrupt item has no reason")
	}
	it, err := ShowQueue(dir, d.ID)
	if err != nil || string(it.Entry.Body) != `{"quality":"d"}` || it.State != StateDeadLetter || !strings.Contains(it.Entry.LastStatus, "BadRequest") {
		t.Errorf("ShowQueue = %+v, %v", it, err)
	}
	if _, err := ShowQueue(dir, "../../etc/passwd"); err == nil {
		t.Error("ShowQueue of a path succeeded")
	}
	if _, err := PurgeQueue(dir, StatePending); err == nil {
		t.Error("purging pending/ succeeded")
	}
	for _, state := range []string{StateDeadLetter, StateCorrupt} {
		if n, err := PurgeQueue(dir, state); n != 1 || err != nil {
			t.Errorf("PurgeQueue(%s) = %d, %v; want 1", state, n, err)
		}
	}
	if items, _ := ListQueue(dir); len(items) != 1 || items[0].Entry.ID != p.ID {
		t.Errorf("after purge: %+v, want only the pending record", items)
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, or skips the test saying why
// (not root, no mount permission in this container).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		t.Skip("full-disk test skipped: mounting a tmpfs needs root")
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("full-disk test skipped: cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file that takes all but about leave bytes of the filesystem at dir.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		free, err := diskFree(dir)
		if err != nil {
			t.Fatal(err)
		}
		if free <= leave {
			return path
		}
		if _, err := f.Write(buf[:min(int64(len(buf)), free-leave)]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}

// A real full disk: writes fail with ENOSPC, the agent keeps the records in memory and carries
// on, and writes them, in order, once space returns. Also the free-disk floor: below it nothing
// is written although the disk could still take it.
func TestUploaderFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, 1<<20)
	dir := filepath.Join(mnt, "spool")
	clk := newFakeClock()
	log, logs := observed()
	sink := newFakeSink(clk, func(int, string) error { return &RetryableError{Status: 503, Err: errors.New("down")} })
	u := newTestUploader(t, dir, sink, clk, log)
	u.spool.limits.minFreeBytes = 0 // the default 64 MiB is more than this whole disk
	mustEnqueue(t, u, `{"quality":0}`)

	filler := fill(t, mnt, 0)
	for i := 1; i <= 3; i++ {
		if err := u.Enqueue([]byte(fmt.Sprintf(`{"quality":%d}`, i))); err != nil {
			t.Fatalf("Enqueue on a full disk = %v, want nil (held)", err)
		}
	}
	if st := u.Stats(); st.Held != 3 || st.Pending != 1 {
		t.Fatalf("Stats on a full disk = %+v, want 3 held and 1 pending", st)
	}
	hold := entriesWith(logs, "spool write failed; holding record in memory")
	if len(hold) != 1 || !strings.Contains(hold[0].ContextMap()["error"].(string), "no space left on device") {
		t.Errorf("hold lines = %v, want one naming ENOSPC", hold)
	}
	u.sendDue(context.Background()) // the retry update fails too; nothing is lost
	if st := u.Stats(); st.Held != 3 || st.Pending != 1 || st.Dropped != 0 {
		t.Errorf("Stats after an attempt on a full disk = %+v", st)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	u.spoolHeld()
	var bodies []string
	for _, e := range onDisk(t, dir) {
		bodies = append(bodies, string(e.Body))
	}
	if want := []string{`{"quality":0}`, `{"quality":1}`, `{"quality":2}`, `{"quality":3}`}; !slices.Equal(bodies, want) {
		t.Errorf("spooled after space returned = %v, want %v", bodies, want)
	}

	// The floor: 600 KiB must stay free on a disk that has more than that but less than
	// 600 KiB plus a record.
	u.spool.limits.minFreeBytes = 600 << 10
	filler = fill(t, mnt, 600<<10+100)
	mustEnqueue(t, u, `{"quality":4}`)
	if st := u.Stats(); st.Held != 1 || st.Pending != 4 {
		t.Errorf("Stats below the floor = %+v, want the record held", st)
	}
	hold = entriesWith(logs, "spool write failed; holding record in memory")
	if len(hold) != 2 || !strings.Contains(hold[1].ContextMap()["error"].(string), "below min_free_bytes") {
		t.Errorf("hold lines = %v, want one naming the floor", hold)
	}
	os.Remove(filler)
	u.spoolHeld()
	if st := u.Stats(); st.Held != 0 || st.Pending != 5 {
		t.Errorf("Stats after space returned = %+v", st)
	}
}
