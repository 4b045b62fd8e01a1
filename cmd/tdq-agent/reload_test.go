//go:build !windows

package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestReloadOnSIGHUP: a running agent re-reads its config on SIGHUP. A valid config is taken
// (the log level and device names at once) and the options that need a restart are named; an
// invalid config is refused with its file:line message and the agent keeps running.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.yaml")
	write := func(s string) {
		if err := os.WriteFile(cfg, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("uploader: {spool_dir: spool, sink: outbox, outbox_dir: outbox}\nlog: {format: json, level: info}\ncall: {idle_timeout: 30s}\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBinary, "run", "--config", cfg)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	waitFor := func(want string) string {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			for _, l := range lines {
				if strings.Contains(l, want) {
					mu.Unlock()
					return l
				}
			}
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("no log line with %q:\n%s", want, strings.Join(lines, "\n"))
		return ""
	}
	waitFor("uploading spooled records only")

	write("uploader: {spool_dir: spool, sink: outbox, outbox_dir: outbox}\nlog: {format: json, level: debug}\ncall: {idle_timeout: 45s}\n")
	cmd.Process.Signal(syscall.SIGHUP)
	l := waitFor("config reloaded")
	if !strings.Contains(l, `"options":["call"]`) {
		t.Errorf("the reload should name call as needing a restart: %s", l)
	}

	write("log: {level: loud}\n")
	cmd.Process.Signal(syscall.SIGHUP)
	l = waitFor("config reload refused")
	if !strings.Contains(l, "agent.yaml:1: log.level") {
		t.Errorf("the refusal should say where: %s", l)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after the reloads: %v", err)
	}
}

// TestServiceSurvivesReload: systemd's ExecReload sends SIGHUP to `service run`; the service
// must reload, not die of the signal, and still stop cleanly on SIGTERM.
func TestServiceSurvivesReload(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte("uploader: {spool_dir: spool, sink: outbox, outbox_dir: outbox}\nlog: {format: json}\n"), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBinary, "service", "run", "--config", cfg)
	var out strings.Builder
	var mu sync.Mutex
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
	}()
	has := func(s string) bool {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			ok := strings.Contains(out.String(), s)
			mu.Unlock()
			if ok {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}
	if !has("uploading spooled records only") {
		t.Fatalf("the service did not start:\n%s", out.String())
	}
	cmd.Process.Signal(syscall.SIGHUP)
	if !has("config reloaded") {
		t.Fatalf("no reload after SIGHUP:\n%s", out.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("service exit after a reload and SIGTERM: %v\n%s", err, out.String())
	}
}
