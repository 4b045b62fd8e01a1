package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const testSecret = "s3cr3t-client-value-9f2b"

// fakeGraph is a local Graph and token authority. It records every POST it accepts.
type fakeGraph struct {
	mu       sync.Mutex
	posts    []post
	tokens   int
	down     bool          // answer 503 to every Graph call
	hold     time.Duration // wait this long before answering a post (set before the agent starts)
	graph    *httptest.Server
	issuer   *httptest.Server
	badForms []string
}

type post struct {
	path, auth, contentType, userAgent string
	body                               []byte
}

func newFakeGraph(t *testing.T) *fakeGraph { return newFakeGraphOn(t, nil) }

// newFakeGraphOn starts the fake Graph and authority on the listeners listen gives (for a
// network namespace), or on loopback listeners of the test's own when listen is nil.
func newFakeGraphOn(t *testing.T, listen func() (graph, issuer net.Listener)) *fakeGraph {
	f := &fakeGraph{}
	// MSAL insists on an https authority and reads its OpenID discovery document first.
	f.issuer = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/tenant-1/v2.0/.well-known/openid-configuration" {
			base := "https://" + r.Host + "/tenant-1"
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"token_endpoint":"`+base+`/oauth2/v2.0/token","authorization_endpoint":"`+base+`/oauth2/v2.0/authorize","issuer":"`+base+`/v2.0"}`)
			return
		}
		r.ParseForm()
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.URL.Path != "/tenant-1/oauth2/v2.0/token" || r.Form.Get("grant_type") != "client_credentials" ||
			r.Form.Get("client_secret") != testSecret || r.Form.Get("client_id") != "client-1" {
			f.badForms = append(f.badForms, r.URL.Path+" "+r.Form.Get("grant_type"))
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		f.tokens++
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"tok-`+string(rune('0'+f.tokens))+`"}`)
	}))
	f.graph = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		time.Sleep(f.hold)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.down {
			w.Header().Set("request-id", "req-down")
			http.Error(w, `{"error":{"code":"ServiceUnavailable","message":"try later"}}`, http.StatusServiceUnavailable)
			return
		}
		f.posts = append(f.posts, post{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), body})
		w.Header().Set("request-id", "req-ok")
		w.WriteHeader(http.StatusOK)
	}))
	if listen != nil {
		g, i := listen()
		f.graph.Listener.Close()
		f.issuer.Listener.Close()
		f.graph.Listener, f.issuer.Listener = g, i
	}
	f.graph.Start()
	f.issuer.StartTLS()
	t.Cleanup(f.graph.Close)
	t.Cleanup(f.issuer.Close)
	return f
}

func (f *fakeGraph) setDown(v bool) {
	f.mu.Lock()
	f.down = v
	f.mu.Unlock()
}

func (f *fakeGraph) received() []post {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]post(nil), f.posts...)
}

// writeConfig writes an agent config for the fake Graph into dir.
func writeConfig(t *testing.T, dir string, f *fakeGraph, files ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("device:\n  name: room-e2e\n  description: end-to-end test device\n")
	b.WriteString("capture:\n  local: [10.20.0.10]\n  files:\n")
	for _, name := range files {
		b.WriteString("    - " + name + "\n")
	}
	if len(files) == 0 {
		b.WriteString("    []\n")
	}
	b.WriteString("uploader:\n  spool_dir: spool\n  sink: graph\n  retry_min: 5s\n  flush_timeout: 3s\n")
	b.WriteString("  graph:\n    base_url: " + f.graph.URL + "\n    authority_url: " + f.issuer.URL + "\n")
	b.WriteString("    tenant_id: tenant-1\n    client_id: client-1\n    client_secret_env: TDQ_TEST_SECRET\n    timeout: 5s\n")
	b.WriteString("log:\n  level: debug\n  format: json\n")
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func agentCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, agentBinary, args...)
	// SSL_CERT_FILE makes the agent trust the test servers' certificate (Linux, macOS).
	cmd.Env = append(os.Environ(), "TDQ_TEST_SECRET="+testSecret, "SSL_CERT_FILE="+testCAFile)
	return cmd
}

// analyzeBody is what `analyze` prints for a capture: the reference for what run uploads.
func analyzeBody(t *testing.T, capture string) []byte {
	t.Helper()
	cfgDir := t.TempDir()
	cfg := filepath.Join(cfgDir, "a.yaml")
	os.WriteFile(cfg, []byte("device:\n  name: room-e2e\n  description: end-to-end test device\n"), 0o600)
	out, err := agentCmd(context.Background(), "analyze", "--local", "10.20.0.10", "--config", cfg, capture).Output()
	if err != nil {
		t.Fatalf("analyze: %v", err)
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("analyze printed %d lines, want 1", len(lines))
	}
	return lines[0]
}

func labCapture(t *testing.T) string {
	p, err := filepath.Abs(filepath.Join("..", "..", "agent", "testdata", "lab", "clean", "clean.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pendingFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "spool", "pending", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRunUploadsToGraph: the real binary replays a capture and posts its one call to the local
// Graph, once, with the bearer token the local authority issued, and leaves the spool empty.
func TestRunUploadsToGraph(t *testing.T) {
	f := newFakeGraph(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, f, labCapture(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logs bytes.Buffer
	cmd := agentCmd(ctx, "run", "--config", cfg)
	cmd.Stderr = &logs
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	got := f.received()
	if len(got) != 1 {
		t.Fatalf("Graph received %d posts, want 1\n%s", len(got), logs.String())
	}
	p := got[0]
	if p.path != "/v1.0/communications/calls/logTeleconferenceDeviceQuality" {
		t.Errorf("path %q", p.path)
	}
	if p.auth != "Bearer tok-1" {
		t.Errorf("Authorization %q, want the token the authority issued", p.auth)
	}
	if p.contentType != "application/json" {
		t.Errorf("Content-Type %q", p.contentType)
	}
	if !strings.HasPrefix(p.userAgent, "tdq-agent/") {
		t.Errorf("User-Agent %q", p.userAgent)
	}
	if want := analyzeBody(t, labCapture(t)); !bytes.Equal(p.body, want) {
		t.Errorf("posted body differs from analyze's\n got %s\nwant %s", p.body, want)
	}
	var body map[string]map[string]any
	if err := json.Unmarshal(p.body, &body); err != nil || body["quality"]["@odata.type"] != "#microsoft.graph.teleconferenceDeviceQuality" {
		t.Errorf("body is not a quality record: %v", err)
	}
	if left := pendingFiles(t, dir); len(left) != 0 {
		t.Errorf("spool still holds %v after a 2xx", left)
	}
	if strings.Contains(logs.String(), testSecret) || strings.Contains(logs.String(), "tok-1") {
		t.Error("the client secret or the token appears in the log")
	}
}

// TestRunRestartDeliversOnce: Graph is down while the call is spooled and the agent stops; the
// record survives on disk, and the next start (no capture, upload only) delivers it exactly once.
func TestRunRestartDeliversOnce(t *testing.T) {
	f := newFakeGraph(t)
	f.setDown(true)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var logs1 bytes.Buffer
	first := agentCmd(ctx, "run", "--config", writeConfig(t, dir, f, labCapture(t)))
	first.Stderr = &logs1
	if err := first.Run(); err != nil {
		t.Fatalf("first run: %v\n%s", err, logs1.String())
	}
	if n := len(f.received()); n != 0 {
		t.Fatalf("Graph accepted %d posts while down", n)
	}
	if left := pendingFiles(t, dir); len(left) != 1 {
		t.Fatalf("want 1 spooled record after the first run, have %v\n%s", left, logs1.String())
	}

	f.setDown(false)
	var logs2 bytes.Buffer
	second := agentCmd(ctx, "run", "--config", writeConfig(t, dir, f))
	second.Stderr = &logs2
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	// The first attempt failed, so the record waits for its backoff (retry_min 5 s, full jitter).
	deadline := time.Now().Add(40 * time.Second)
	for len(pendingFiles(t, dir)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	second.Process.Signal(syscall.SIGTERM)
	if err := second.Wait(); err != nil {
		t.Fatalf("second run did not stop cleanly on SIGTERM: %v\n%s", err, logs2.String())
	}
	got := f.received()
	if len(got) != 1 {
		t.Fatalf("Graph received %d posts, want exactly 1\n%s", len(got), logs2.String())
	}
	if want := analyzeBody(t, labCapture(t)); !bytes.Equal(got[0].body, want) {
		t.Errorf("delivered body differs from the call's record")
	}
	if left := pendingFiles(t, dir); len(left) != 0 {
		t.Errorf("spool still holds %v", left)
	}
}
