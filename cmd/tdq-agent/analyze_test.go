package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAnalyzeEveryCapture runs analyze on every shared capture and every capture in the
// repository: each must exit 0 and print only valid request bodies, one per line.
func TestAnalyzeEveryCapture(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../../agent/testdata/captures/*.*", "../../agent/testdata/lab/*/*.pcap", "../../configs/samples/*.pcap*"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	shared, _ := filepath.Glob("../../../shared/captures/*.*")
	if len(shared) == 0 {
		t.Log("../shared/captures not found beside the repository: only the repository's own captures are analysed")
	}
	for _, f := range shared {
		if !strings.HasSuffix(f, ".md") {
			files = append(files, f)
		}
	}
	var ran int
	for _, f := range files {
		if strings.HasSuffix(f, ".md") || strings.HasSuffix(f, ".txt") || strings.HasSuffix(f, ".csv") || strings.HasSuffix(f, ".json") {
			continue
		}
		ran++
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			cmd := agentCmd(ctx, "analyze", f)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("analyze %s: %v\n%s", f, err, stderr.String())
			}
			for i, line := range bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n")) {
				if len(line) == 0 {
					continue
				}
				var body struct {
					Quality struct {
						ODataType        string            `json:"@odata.type"`
						MediaQualityList []json.RawMessage `json:"mediaQualityList"`
					} `json:"quality"`
				}
				if err := json.Unmarshal(line, &body); err != nil {
					t.Fatalf("line %d is not JSON: %v", i+1, err)
				}
				if body.Quality.ODataType != "#microsoft.graph.teleconferenceDeviceQuality" || len(body.Quality.MediaQualityList) == 0 {
					t.Errorf("line %d is not a quality record with channels: %.200s", i+1, line)
				}
			}
		})
	}
	if ran < 10 {
		t.Fatalf("only %d captures found: the globs are wrong", ran)
	}
}

// TestAnalyzeBadInput: an unreadable file ends in a non-zero exit and a message naming it;
// the other files are still analysed.
func TestAnalyzeBadInput(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.pcap")
	os.WriteFile(text, []byte("this is not a capture\n"), 0o644)
	empty := filepath.Join(dir, "empty.pcap")
	os.WriteFile(empty, nil, 0o644)
	missing := filepath.Join(dir, "missing.pcap")
	good := labCapture(t)
	var stdout, stderr bytes.Buffer
	cmd := agentCmd(context.Background(), "analyze", text, good, empty, missing)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		t.Fatal("analyze exited 0 on unreadable files")
	}
	msg := stderr.String()
	for _, want := range []string{text + ": not a pcap or pcapng file", empty, "missing.pcap: no such file", "3 of 4 files could not be read"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr lacks %q:\n%s", want, msg)
		}
	}
	if n := bytes.Count(stdout.Bytes(), []byte("\n")); n != 1 {
		t.Errorf("the readable capture gave %d lines, want 1", n)
	}
}

// TestExitCodes: 0 done (help included), 1 failed, 2 the command line was wrong; flags may follow
// the file names.
func TestExitCodes(t *testing.T) {
	good := labCapture(t)
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"help is not a failure", []string{"analyze", "-h"}, 0},
		{"flags after the file", []string{"analyze", good, "--local", "10.20.0.10"}, 0},
		{"unknown flag", []string{"analyze", "--bogus", good}, 2},
		{"no file", []string{"analyze"}, 2},
		{"unknown command", []string{"nonsense"}, 2},
		{"run without config", []string{"run"}, 2},
		{"run with a stray argument", []string{"run", "--config", "x.yaml", "extra"}, 2},
		{"config check without file", []string{"config", "check"}, 2},
		{"unreadable capture", []string{"analyze", t.TempDir()}, 1},
		{"missing config", []string{"run", "--config", "/nonexistent/agent.yaml"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := agentCmd(context.Background(), tc.args...).Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
		})
	}
}

// TestBenchRuns: the shipped benchmark generates its capture, analyses it in a child process and
// reports each figure; the 100 two-way channels of 200 streams become 100 calls.
func TestBenchRuns(t *testing.T) {
	out, err := agentCmd(context.Background(), "bench", "--packets", "20000", "--no-tshark").Output()
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	for _, want := range []string{"capture        20000 packets, 200 streams", "packets/s of CPU", ", 100 calls", "allocations", "stream state", "peak RSS"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
}
