package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tdq-agent/tdq-agent/uploader"
)

// queueFixture makes a spool with two pending records (one of them failed before), a
// dead-lettered one and a corrupt file, and returns the config and the ids.
func queueFixture(t *testing.T, g *crashGraph) (cfg, spool string, ids []string) {
	dir := t.TempDir()
	cfg = g.writeConfig(t, dir)
	spool = filepath.Join(dir, "spool")
	s, err := uploader.OpenSpool(spool, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e, err := s.Put(fmt.Appendf(nil, `{"quality":{"n":%d}}`, i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	s.Close()
	// Dead-letter the third by hand, as an operator would find it after a 400.
	if err := os.Rename(filepath.Join(spool, "pending", ids[2]+".json"), filepath.Join(spool, "deadletter", ids[2]+".json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spool, "corrupt", "bad.json"), []byte(`{"version":1,`), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, spool, ids
}

func queue(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runQueue(args, &out)
	return out.String(), err
}

func TestQueueCommands(t *testing.T) {
	g := newCrashGraph(t, 1)
	cfg, spool, ids := queueFixture(t, g)

	out, err := queue(t, "list", "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pending  " + ids[0], "pending  " + ids[1], "deadletter  " + ids[2], "corrupt  bad",
		"2 pending, 1 dead-lettered, 1 corrupt"} {
		if !strings.Contains(strings.Join(strings.Fields(out), "  "), strings.Join(strings.Fields(want), "  ")) {
			t.Errorf("list does not show %q:\n%s", want, out)
		}
	}

	out, err = queue(t, "show", ids[2], "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var shown struct {
		State string          `json:"state"`
		ID    string          `json:"id"`
		Body  json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown.State != "deadletter" || shown.ID != ids[2] || string(shown.Body) != `{"quality":{"n":2}}` {
		t.Errorf("show = %s (%v)", out, err)
	}

	// No agent runs: retry applies at once.
	out, err = queue(t, "retry", ids[2], "--config", cfg)
	if err != nil || !strings.Contains(out, "requeued 1 records") {
		t.Errorf("retry = %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(spool, "pending", ids[2]+".json")); err != nil {
		t.Errorf("retried record is not pending: %v", err)
	}
	out, err = queue(t, "purge", "--corrupt", "--config", cfg)
	if err != nil || !strings.Contains(out, "deleted 1 files from corrupt/") {
		t.Errorf("purge = %q, %v", out, err)
	}

	for _, bad := range [][]string{
		{"list"}, {"frobnicate", "--config", cfg}, {"retry", "--config", cfg}, {"retry", ids[0], "--all", "--config", cfg},
		{"purge", "--config", cfg}, {"purge", "--deadletter", "--corrupt", "--config", cfg}, {"list", "--all", "--config", cfg},
	} {
		if _, err := queue(t, bad...); err == nil {
			t.Errorf("queue %v succeeded", bad)
		} else if _, ok := err.(usageError); !ok {
			t.Errorf("queue %v = %v, want a usage error (exit 2)", bad, err)
		}
	}
	if _, err := queue(t, "show", "20250101T000000.000000000Z-00000000", "--config", cfg); err == nil {
		t.Error("show of an unknown id succeeded")
	}
}

// With the agent running: a second agent on the same spool is refused and names the first one's
// pid; `queue retry --all` is left for the running agent, which applies it.
func TestQueueWithRunningAgent(t *testing.T) {
	g := newCrashGraph(t, 2)
	cfg, spool, _ := queueFixture(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := agentCmd(ctx, "run", "--config", cfg)
	first.Env = append(first.Env, "SSL_CERT_FILE="+g.certFile)
	var logs bytes.Buffer
	first.Stderr = &logs
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	waitFor(t, "the pending records to be delivered", func() bool { return len(g.missing(2)) == 0 })

	second := agentCmd(ctx, "run", "--config", cfg)
	second.Env = append(second.Env, "SSL_CERT_FILE="+g.certFile)
	out, err := second.CombinedOutput()
	if err == nil {
		t.Fatal("a second agent on the same spool started")
	}
	if want := fmt.Sprintf("is in use by another tdq-agent (pid %d)", first.Process.Pid); !strings.Contains(string(out), want) {
		t.Errorf("second agent said %q, want it to contain %q", out, want)
	}

	res, err := queue(t, "retry", "--all", "--config", cfg)
	if err != nil || !strings.Contains(res, fmt.Sprintf("the running agent (pid %d) applies it", first.Process.Pid)) {
		t.Errorf("retry --all = %q, %v", res, err)
	}
	waitFor(t, "the dead-lettered record to be delivered", func() bool { return len(g.missing(3)) == 0 })
	waitFor(t, "requests/ to be emptied", func() bool {
		left, _ := filepath.Glob(filepath.Join(spool, "requests", "*"))
		return len(left) == 0
	})
	first.Process.Signal(syscall.SIGTERM)
	if err := first.Wait(); err != nil {
		t.Fatalf("agent did not stop cleanly: %v\n%s", err, logs.String())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
