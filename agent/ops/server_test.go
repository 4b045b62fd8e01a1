package ops

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// status is a StatusSource the test sets.
type status struct {
	mu sync.Mutex
	h  Health
}

func (s *status) Health() Health { s.mu.Lock(); defer s.mu.Unlock(); return s.h }
func (s *status) set(h Health)   { s.mu.Lock(); s.h = h; s.mu.Unlock() }
func healthy() Health            { return Health{Capture: CaptureRunning, SpoolWritable: true} }
func newTestServer(t *testing.T) (*Server, *status) {
	t.Helper()
	st := &status{h: healthy()}
	cfg := enabledConfig()
	cfg.TokenFile = filepath.Join(t.TempDir(), "state", "control.token")
	s, err := New(cfg, zap.NewNop(), st)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

const (
	chain = "0b5c8c6e-3f0a-4d1e-9c61-5a3b2f4e7d10"
	part  = "5f2d0c1a-7e3b-4a9c-8d21-6b4e3f2a1c0d"
	leg   = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
)

// do sends a request from a loopback client through the whole handler.
func do(t *testing.T, s *Server, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "http://127.0.0.1:9477"+path, strings.NewReader(body))
	r.RemoteAddr = "127.0.0.1:40000"
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	return w
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	return e.Error
}

func TestTokenFile(t *testing.T) {
	s, _ := newTestServer(t)
	b, err := os.ReadFile(s.cfg.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(b) {
		t.Errorf("token file holds %q, want 64 hex digits and a newline", b)
	}
	if s.token != strings.TrimSpace(string(b)) {
		t.Error("the server's token is not the file's")
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(s.cfg.TokenFile)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("token file mode = %v, want 0600", fi.Mode().Perm())
		}
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(s.cfg.TokenFile), ".control-token-*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}

	// A second start reads the same token instead of replacing it.
	again, err := New(s.cfg, zap.NewNop(), &status{})
	if err != nil {
		t.Fatal(err)
	}
	if again.token != s.token {
		t.Error("a restart replaced the token")
	}
}

func TestTokenFileRefused(t *testing.T) {
	for name, content := range map[string]string{
		"short":  "secret\n",
		"spaces": strings.Repeat("ab ", 20),
		"empty":  "",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := enabledConfig()
			cfg.TokenFile = filepath.Join(t.TempDir(), "control.token")
			if err := os.WriteFile(cfg.TokenFile, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(cfg, zap.NewNop(), &status{})
			if err == nil || !strings.Contains(err.Error(), "delete the file and the agent makes a new one") {
				t.Errorf("New() = %v, want a refusal naming the fix", err)
			}
		})
	}
}

func TestUnauthorized(t *testing.T) {
	s, _ := newTestServer(t)
	body := `{"callChainId":"` + chain + `","participantId":"` + part + `","mediaLegId":"` + leg + `"}`
	tests := []struct{ name, method, path, auth, want string }{
		{"no token", "POST", "/v1/calls", "", "missing bearer token"},
		{"basic scheme", "POST", "/v1/calls", "Basic dXNlcjpwYXNz", "missing bearer token"},
		{"wrong token", "POST", "/v1/calls", "Bearer " + strings.Repeat("0", 64), "wrong bearer token"},
		{"token prefix", "POST", "/v1/calls", "Bearer " + s.token[:32], "wrong bearer token"},
		{"list without token", "GET", "/v1/calls", "", "missing bearer token"},
		{"end with wrong token", "POST", "/v1/calls/" + chain + "/end", "Bearer x", "wrong bearer token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://127.0.0.1:9477"+tt.path, strings.NewReader(body))
			r.RemoteAddr = "127.0.0.1:40000"
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", w.Code)
			}
			if got := errorOf(t, w); !strings.Contains(got, tt.want) {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
			if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
	if s.Identities().Len() != 0 {
		t.Error("a refused request announced an identity")
	}
}

func TestNonLoopbackForbidden(t *testing.T) {
	s, _ := newTestServer(t)
	for _, tt := range []struct{ name, remote, host, path string }{
		{"remote address, with the token", "192.0.2.1:1234", "127.0.0.1:9477", "/v1/calls"},
		{"remote address, healthz", "192.0.2.1:1234", "127.0.0.1:9477", "/healthz"},
		{"remote address, metrics", "[2001:db8::1]:1234", "127.0.0.1:9477", "/metrics"},
		{"unparsable remote", "pipe", "127.0.0.1:9477", "/healthz"},
		{"rebinding host name", "127.0.0.1:40000", "attacker.example:9477", "/v1/calls"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://"+tt.host+tt.path, nil)
			r.RemoteAddr = tt.remote
			r.Header.Set("Authorization", "Bearer "+s.token)
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != http.StatusForbidden {
				t.Fatalf("status = %d, want 403", w.Code)
			}
			if e := errorOf(t, w); !strings.Contains(e, "not loopback") && !strings.Contains(e, "not a loopback") {
				t.Errorf("error = %q", e)
			}
		})
	}
	// Loopback in its other spellings passes.
	for _, remote := range []string{"[::1]:40000", "[::ffff:127.0.0.1]:40000", "127.0.0.9:1"} {
		r := httptest.NewRequest("GET", "http://localhost:9477/healthz", nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Errorf("remote %s: status = %d, want 200", remote, w.Code)
		}
	}
}

func TestAnnounceThenLookup(t *testing.T) {
	s, _ := newTestServer(t)
	sdp := strings.ReplaceAll(offer, "\r\n", `\r\n`)
	w := do(t, s, "POST", "/v1/calls", s.token, `{"callChainId":"`+chain+`","participantId":"`+part+
		`","mediaLegId":"`+leg+`","localPorts":[50000,50001],"sdp":"`+sdp+`"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	var stored Identity
	if err := json.Unmarshal(w.Body.Bytes(), &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Announced.IsZero() || stored.CallChainID != chain {
		t.Errorf("response = %+v", stored)
	}

	got, ok := s.Identities().Lookup(50001, time.Now())
	if !ok {
		t.Fatal("Lookup(50001) found nothing")
	}
	if got.CallChainID != chain || got.ParticipantID != part || got.MediaLegID != leg {
		t.Errorf("Lookup = %+v", got)
	}
	if len(got.ClockRates) != 2 || got.ClockRates[111] != 48000 || got.ClockRates[101] != 8000 {
		t.Errorf("ClockRates = %v, want 111:48000 101:8000 (PT 0 left out)", got.ClockRates)
	}

	w = do(t, s, "GET", "/v1/calls", s.token, "")
	var list struct{ Calls []Identity }
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != 200 || len(list.Calls) != 1 || list.Calls[0].MediaLegID != leg {
		t.Errorf("GET /v1/calls = %d %s", w.Code, w.Body)
	}

	w = do(t, s, "POST", "/v1/calls/"+chain+"/end", s.token, "")
	if w.Code != http.StatusOK {
		t.Fatalf("end: status = %d, body %s", w.Code, w.Body)
	}
	select {
	case c := <-s.Identities().Ended():
		if c != chain {
			t.Errorf("Ended() = %q", c)
		}
	default:
		t.Error("the end did not reach Ended()")
	}
	if w := do(t, s, "POST", "/v1/calls/"+part+"/end", s.token, ""); w.Code != http.StatusNotFound {
		t.Errorf("end of an unknown call: status = %d, want 404", w.Code)
	}
}

func TestAnnounceBadRequest(t *testing.T) {
	s, _ := newTestServer(t)
	good := func(chainID, partID, legID string) string {
		return `{"callChainId":"` + chainID + `","participantId":"` + partID + `","mediaLegId":"` + legID + `","localPorts":[50000]}`
	}
	tests := []struct{ name, body, want string }{
		{"capital letters", good(strings.ToUpper(chain), part, leg),
			`callChainId: "0B5C8C6E-3F0A-4D1E-9C61-5A3B2F4E7D10" has capital letters, want it in lowercase: "` + chain + `"`},
		{"braces", good(chain, "{"+part+"}", leg), `participantId: "{` + part + `}" is not a GUID, want 8-4-4-4-12 lowercase hex digits`},
		{"too short", good(chain, part, "9a8b7c6d-5e4f"), `mediaLegId: "9a8b7c6d-5e4f" is not a GUID`},
		{"missing", `{"callChainId":"` + chain + `","participantId":"` + part + `"}`, "mediaLegId: required, want a lowercase GUID"},
		{"two at once", good("x", part, "y"), "callChainId: \"x\" is not a GUID"},
		{"port 0", `{"callChainId":"` + chain + `","participantId":"` + part + `","mediaLegId":"` + leg + `","localPorts":[0]}`,
			"localPorts[0]: 0 is not a UDP port, want 1 to 65535"},
		{"port too big", `{"callChainId":"` + chain + `","participantId":"` + part + `","mediaLegId":"` + leg + `","localPorts":[5000,70000]}`,
			"localPorts[1]: 70000 is not a UDP port"},
		{"port as string", `{"callChainId":"` + chain + `","participantId":"` + part + `","mediaLegId":"` + leg + `","localPorts":["5000"]}`,
			"body: localPorts"},
		{"misspelt field", `{"localPort":[50000]}`, `body: json: unknown field "localPort"`},
		{"bad sdp", `{"callChainId":"` + chain + `","participantId":"` + part + `","mediaLegId":"` + leg + `","sdp":"a=rtpmap:111 opus\r\n"}`,
			`sdp line 1 "a=rtpmap:111 opus": no clock rate`},
		{"empty", ``, "body: empty, want a JSON object"},
		{"two objects", good(chain, part, leg) + good(chain, part, leg), "body: more than one JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, "POST", "/v1/calls", s.token, tt.body)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %s)", w.Code, w.Body)
			}
			if got := errorOf(t, w); !strings.Contains(got, tt.want) {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
		})
	}
	if w := do(t, s, "POST", "/v1/calls/NOT-A-GUID/end", s.token, ""); w.Code != http.StatusBadRequest ||
		!strings.Contains(errorOf(t, w), `callChainId: "NOT-A-GUID" is not a GUID`) {
		t.Errorf("end with a bad GUID: %d %s", w.Code, w.Body)
	}
	if s.Identities().Len() != 0 {
		t.Error("a refused announcement was stored")
	}
}

func TestHealthz(t *testing.T) {
	s, st := newTestServer(t)
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    Health
		code int
		want string
	}{
		{"running, no upload yet", healthy(), 200,
			`{"capture":"running","spool_writable":true,"last_upload":null}`},
		{"running, uploaded", Health{Capture: CaptureRunning, SpoolWritable: true, LastUpload: &Upload{At: at, Status: "204", OK: true}}, 200,
			`{"capture":"running","spool_writable":true,"last_upload":{"at":"2026-03-02T09:30:00Z","status":"204","ok":true}}`},
		{"last upload failed is still healthy", Health{Capture: CaptureRunning, SpoolWritable: true, LastUpload: &Upload{At: at, Status: "retry: 503", OK: false}}, 200,
			`{"capture":"running","spool_writable":true,"last_upload":{"at":"2026-03-02T09:30:00Z","status":"retry: 503","ok":false}}`},
		{"capture stopped", Health{Capture: CaptureStopped, CaptureError: "npcap is not installed", SpoolWritable: true}, 503,
			`{"capture":"stopped","capture_error":"npcap is not installed","spool_writable":true,"last_upload":null}`},
		{"spool not writable", Health{Capture: CaptureRunning, SpoolWritable: false}, 503,
			`{"capture":"running","spool_writable":false,"last_upload":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st.set(tt.h)
			w := do(t, s, "GET", "/healthz", "", "")
			if w.Code != tt.code {
				t.Errorf("status = %d, want %d", w.Code, tt.code)
			}
			if got := strings.TrimSpace(w.Body.String()); got != tt.want {
				t.Errorf("body = %s\nwant   %s", got, tt.want)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	s, _ := newTestServer(t)
	s.Observe(Snapshot{
		Packets:       Kinds{RTP: 2161, RTCP: 44, STUN: 12, Other: 3},
		Bytes:         Kinds{RTP: 371692, RTCP: 3520, STUN: 1200, Other: 90},
		MalformedRTP:  2,
		MalformedRTCP: 1,
		Streams:       4, Channels: 2, Calls: 1,
		Records:       Records{Spooled: 7, Uploaded: 5, Retried: 3, DeadLettered: 1, Dropped: 1, Expired: 1, Corrupt: 0, Pending: 1, Held: 0},
		CaptureDrops:  9,
		TokenRenewals: 2,
	})
	s.ObserveUpload(30 * time.Millisecond)
	s.ObserveUpload(2 * time.Second)
	s.Identities().Announce(ident(chain, 50000))

	w := do(t, s, "GET", "/metrics", "", "")
	if w.Code != 200 {
		t.Fatalf("status = %d", w.Code)
	}
	body := w.Body.String()
	for _, line := range []string{
		`tdq_packets_total{kind="rtp"} 2161`,
		`tdq_packets_total{kind="rtcp"} 44`,
		`tdq_packets_total{kind="stun"} 12`,
		`tdq_packets_total{kind="other"} 3`,
		`tdq_bytes_total{kind="rtp"} 371692`,
		`tdq_bytes_total{kind="other"} 90`,
		`tdq_malformed_packets_total{kind="rtp"} 2`,
		`tdq_malformed_packets_total{kind="rtcp"} 1`,
		`tdq_active_streams 4`,
		`tdq_active_channels 2`,
		`tdq_active_calls 1`,
		`tdq_records_spooled_total 7`,
		`tdq_records_uploaded_total 5`,
		`tdq_records_retried_total 3`,
		`tdq_records_dead_lettered_total 1`,
		`tdq_records_dropped_total 1`,
		`tdq_records_expired_total 1`,
		`tdq_records_corrupt_total 0`,
		`tdq_records_pending 1`,
		`tdq_records_held 0`,
		`tdq_capture_drops_total 9`,
		`tdq_token_renewals_total 2`,
		`tdq_upload_duration_seconds_bucket{le="0.05"} 1`,
		`tdq_upload_duration_seconds_bucket{le="2.5"} 2`,
		`tdq_upload_duration_seconds_count 2`,
		`tdq_upload_duration_seconds_sum 2.03`,
		`tdq_announced_identities 1`,
		`# TYPE tdq_packets_total counter`,
		`# TYPE tdq_active_calls gauge`,
		`# TYPE tdq_upload_duration_seconds histogram`,
		`# TYPE go_goroutines gauge`,
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("/metrics lacks the line %q", line)
		}
	}

	// A later snapshot replaces the earlier one.
	s.Observe(Snapshot{Packets: Kinds{RTP: 3000}})
	if body := do(t, s, "GET", "/metrics", "", "").Body.String(); !strings.Contains(body, "\n"+`tdq_packets_total{kind="rtp"} 3000`+"\n") {
		t.Error("/metrics does not show the latest snapshot")
	}
}

// TestServeRealListener runs the server on a real loopback socket: health, an authenticated
// announcement, and a clean stop when the context ends.
func TestServeRealListener(t *testing.T) {
	s, _ := newTestServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { errc <- s.serve(ctx, ln) }()
	<-s.listening
	base := "http://" + s.addr.String()
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()

	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}

	req, _ := http.NewRequest("POST", base+"/v1/calls", strings.NewReader(
		`{"callChainId":"`+chain+`","participantId":"`+part+`","mediaLegId":"`+leg+`","localPorts":[50000]}`))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("POST /v1/calls: %d", resp.StatusCode)
	}
	if _, ok := s.Identities().Lookup(50000, time.Now()); !ok {
		t.Error("the announcement over the socket was not stored")
	}

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("serve returned %v after the context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after the context ended")
	}
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after it stopped")
	}
}

func TestServeAddressInUse(t *testing.T) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := enabledConfig()
	cfg.Listen = ln.Addr().String()
	cfg.TokenFile = filepath.Join(t.TempDir(), "control.token")
	s, err := New(cfg, zap.NewNop(), &status{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "ops.listen: ") {
		t.Errorf("Serve on a taken address = %v, want an ops.listen error", err)
	}
}

func TestRateLimited(t *testing.T) {
	l := rateLimited{every: time.Minute}
	if n, ok := l.allow(t0); !ok || n != 0 {
		t.Errorf("first = %d, %v", n, ok)
	}
	for range 5 {
		if _, ok := l.allow(t0.Add(time.Second)); ok {
			t.Error("allowed within the minute")
		}
	}
	if n, ok := l.allow(t0.Add(time.Minute)); !ok || n != 5 {
		t.Errorf("after a minute = %d, %v, want 5 left out", n, ok)
	}
}
