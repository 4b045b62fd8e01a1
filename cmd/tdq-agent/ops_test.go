package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestControlInputAndEndpoints runs the real agent replaying the clean lab call at ten times its
// pace with the operations endpoints on: the conferencing application announces the call's
// identity through the control input (token from the file the agent created, mode 0600), and the
// record carries exactly those ids; /healthz and /metrics answer while the call runs, and after
// it, while Graph holds the upload, /metrics counts exactly the packets tshark counts in the
// capture (2990 RTP, 14 RTCP) and one uploaded record follows.
func TestControlInputAndEndpoints(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	g := newFakeGraph(t)
	g.hold = 3 * time.Second // the agent stays up, flushing, while the test reads /metrics
	dir := t.TempDir()
	cfg := writeConfig(t, dir, g, labCapture(t))
	raw, _ := os.ReadFile(cfg)
	cfgText := strings.Replace(string(raw), "capture:\n", "capture:\n  replay_speed: 10\n", 1) +
		fmt.Sprintf("ops: {listen: \"%s\", token_file: control.token}\n", addr)
	cfgText = strings.Replace(cfgText, "level: debug", "level: info", 1)
	os.WriteFile(cfg, []byte(cfgText), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := agentCmd(ctx, "run", "--config", cfg)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	var token string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dir, "control.token")); err == nil {
			if resp, err := http.Get(base + "/healthz"); err == nil {
				resp.Body.Close()
				token = strings.TrimSpace(string(b))
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if token == "" {
		t.Fatalf("the endpoints did not come up:\n%s", logs.String())
	}
	if info, _ := os.Stat(filepath.Join(dir, "control.token")); info.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", info.Mode().Perm())
	}

	announce := `{"callChainId":"2a9b1c7e-0d3f-4b8a-9e21-5c6d7f8a9b0c","participantId":"3b0c2d8f-1e4a-4c9b-8f32-6d7e8f9a0b1c","mediaLegId":"4c1d3e9a-2f5b-4dac-9a43-7e8f9a0b1c2d","localPorts":[50000]}`
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/calls", strings.NewReader(announce))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("announce without the token: %v %v, want 401", resp.StatusCode, err)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/v1/calls", strings.NewReader(announce))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("announce: %v %v", resp, err)
	}

	time.Sleep(1500 * time.Millisecond) // a published snapshot with packets in it
	resp, err = http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz during the replay: %v %v", resp, err)
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var rtp float64
	sc := bufio.NewScanner(bytes.NewReader(metrics))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), `tdq_packets_total{kind="rtp"}`) {
			fmt.Sscan(strings.Fields(sc.Text())[1], &rtp)
		}
	}
	// Ten times the pace for at least a second: at least 10 s of a 100 packet/s call.
	if rtp < 500 || rtp > 2990 {
		t.Errorf("tdq_packets_total{kind=\"rtp\"} = %v during the replay, want between 500 and 2990\n%s", rtp, metrics)
	}
	if !bytes.Contains(metrics, []byte("tdq_active_calls 1")) {
		t.Errorf("/metrics does not show the call in progress:\n%s", metrics)
	}

	// The replay ends after 3 s; the upload is held 3 s: read the final counters meanwhile.
	deadline = time.Now().Add(15 * time.Second)
	var final []byte
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/metrics")
		if err == nil {
			final, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Contains(final, []byte("tdq_records_spooled_total 1")) && bytes.Contains(final, []byte("tdq_active_calls 0")) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{`tdq_packets_total{kind="rtp"} 2990`, `tdq_packets_total{kind="rtcp"} 14`,
		"tdq_records_spooled_total 1", "tdq_active_calls 0", "tdq_active_streams 0",
		"tdq_token_renewals_total 1"} { // the token for the upload Graph is holding
		if !bytes.Contains(final, []byte(want)) {
			t.Errorf("/metrics after the replay lacks %q:\n%s", want, final)
		}
	}

	if err := cmd.Wait(); err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	posts := g.received()
	// The agent exits right after its one upload, taking the endpoints with it, so the latency
	// histogram is not read here (package ops tests it); the upload itself must be logged.
	if !strings.Contains(logs.String(), "record uploaded") {
		t.Errorf("no upload line:\n%s", logs.String())
	}
	if len(posts) != 1 {
		t.Fatalf("%d records, want 1\n%s", len(posts), logs.String())
	}
	body := posts[0].body
	var rec struct {
		Quality struct{ CallChainID, ParticipantID, MediaLegID string } `json:"quality"`
	}
	json.Unmarshal(body, &rec)
	q := rec.Quality
	if q.CallChainID != "2a9b1c7e-0d3f-4b8a-9e21-5c6d7f8a9b0c" || q.ParticipantID != "3b0c2d8f-1e4a-4c9b-8f32-6d7e8f9a0b1c" || q.MediaLegID != "4c1d3e9a-2f5b-4dac-9a43-7e8f9a0b1c2d" {
		t.Errorf("record ids %+v, want the announced ones", q)
	}
	if !strings.Contains(logs.String(), `"generated_ids":false`) {
		t.Errorf("the call-end line should say the ids were not generated:\n%s", logs.String())
	}
}
