package uploader

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOutboxSinkWritesBodies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	if err := os.MkdirAll(filepath.Join(dir, outboxTmp), 0o700); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(dir, outboxTmp, "x.json.1.tmp")
	if err := os.WriteFile(leftover, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewOutboxSink(dir)
	if err != nil {
		t.Fatalf("NewOutboxSink: %v", err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("leftover temp file not removed: %v", err)
	}

	body := "{\"quality\": {\"deviceName\": \"Room <A>\"}}"
	id := "20250301T120000.000000000Z-0a1b2c3d"
	ctx := withSendInfo(context.Background(), &sendInfo{ID: id})
	// Sending the same record twice, as after a crash between send and delete, gives one file.
	for range 2 {
		if err := s.Send(ctx, []byte(body)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if err := s.Send(context.Background(), []byte(`{"quality":2}`)); err != nil {
		t.Fatalf("Send without an id: %v", err)
	}

	names := dirNames(t, dir)
	if len(names) != 3 { // two records and .tmp
		t.Fatalf("outbox holds %v, want two files and .tmp", names)
	}
	got, err := os.ReadFile(filepath.Join(dir, id+".json"))
	if err != nil || string(got) != body {
		t.Errorf("outbox file = %q (%v), want %q", got, err, body)
	}
	for _, n := range names {
		if n != outboxTmp && !strings.HasSuffix(n, ".json") {
			t.Errorf("unexpected outbox file %q", n)
		}
	}
	if left := dirNames(t, filepath.Join(dir, outboxTmp)); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestOutboxSinkFailureIsRetryable(t *testing.T) {
	dir := t.TempDir()
	s, err := NewOutboxSink(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, outboxTmp)); err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), []byte(`{}`))
	if _, ok := errors.AsType[*RetryableError](err); !ok {
		t.Errorf("Send with a broken outbox = %v, want RetryableError", err)
	}
}

// End to end through the uploader: records land in the outbox under their spool ids and leave
// the spool.
func TestUploaderToOutbox(t *testing.T) {
	root := t.TempDir()
	cfg := DefaultConfig()
	cfg.SpoolDir, cfg.Sink, cfg.OutboxDir = filepath.Join(root, "spool"), SinkOutbox, filepath.Join(root, "outbox")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("outbox config: %v", err)
	}
	sink, err := NewSink(cfg, testUserAgent, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(cfg, sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, u, `{"quality":1}`)
	mustEnqueue(t, u, `{"quality":2}`)
	var want []string
	for _, e := range u.spool.Pending() {
		want = append(want, e.ID+".json")
	}
	if err := u.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := dirNames(t, cfg.OutboxDir)
	if len(got) != 3 || got[0] != outboxTmp || got[1] != want[0] || got[2] != want[1] {
		t.Errorf("outbox = %v, want .tmp and %v", got, want)
	}
	if st := u.Stats(); st.Uploaded != 2 || st.Pending != 0 {
		t.Errorf("Stats = %+v", st)
	}
}
