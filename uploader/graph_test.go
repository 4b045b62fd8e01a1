package uploader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

const (
	testSecret    = "S3cr3t-Value-4f9d"
	testUserAgent = "tdq-agent/1.2.3-test"
)

// tokenServer is a fake Microsoft identity platform token endpoint.
type tokenServer struct {
	*httptest.Server
	expiresIn int    // lifetime handed out, seconds
	refuse    int    // when non-zero, refuse with this status
	refuseMsg string // error_description when refusing
	prefix    string // token values are prefix + hit number

	mu    sync.Mutex
	forms []url.Values
	paths []string
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{expiresIn: 3599, prefix: "token-"}
	ts.Server = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ts.mu.Lock()
	ts.forms = append(ts.forms, r.PostForm)
	ts.paths = append(ts.paths, r.URL.Path)
	n := len(ts.forms)
	ts.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if ts.refuse != 0 {
		w.WriteHeader(ts.refuse)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":%q}`, ts.refuseMsg)
		return
	}
	fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d,"ext_expires_in":%d,"access_token":"%s%d"}`,
		ts.expiresIn, ts.expiresIn, ts.prefix, n)
}

func (ts *tokenServer) hits() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.forms)
}

// graphRequest is what the fake Graph saw of one request.
type graphRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

// graphServer is a fake Graph that answers each request with the next scripted handler (the
// last one repeats).
type graphServer struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []graphRequest
	answers []http.HandlerFunc
}

func newGraphServer(t *testing.T, answers ...http.HandlerFunc) *graphServer {
	gs := &graphServer{answers: answers}
	gs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		gs.mu.Lock()
		gs.reqs = append(gs.reqs, graphRequest{r.Method, r.URL.Path, r.Header.Clone(), body})
		answer := gs.answers[min(len(gs.reqs), len(gs.answers))-1]
		gs.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(gs.Close)
	return gs
}

func (gs *graphServer) requests() []graphRequest {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	return append([]graphRequest(nil), gs.reqs...)
}

// answer returns a handler that writes status, headers and body.
func answer(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func graphErrorBody(code, message, requestID string) string {
	return fmt.Sprintf(`{"error":{"code":%q,"message":%q,"innerError":{"request-id":%q,"date":"2025-03-01T12:00:00"}}}`,
		code, message, requestID)
}

func testGraphConfig(tok *tokenServer, graph *graphServer) GraphConfig {
	cfg := DefaultConfig().Graph
	cfg.BaseURL = graph.URL
	cfg.TokenURL = tok.URL + "/{tenant}/oauth2/v2.0/token"
	cfg.TenantID = "contoso.onmicrosoft.com"
	cfg.ClientID = "11111111-2222-3333-4444-555555555555"
	cfg.ClientSecret = testSecret
	cfg.Timeout = 5 * time.Second
	return cfg
}

func newTestGraphSink(t *testing.T, cfg GraphConfig, clk *fakeClock, log *zap.Logger) *graphSink {
	t.Helper()
	s, err := NewGraphSink(cfg, testUserAgent, log)
	if err != nil {
		t.Fatalf("NewGraphSink: %v", err)
	}
	g := s.(*graphSink)
	g.now = clk.Now
	t.Cleanup(g.client.CloseIdleConnections)
	return g
}

func TestGraphSinkPostsRecord(t *testing.T) {
	for _, version := range []string{"v1.0", "beta"} {
		t.Run(version, func(t *testing.T) {
			tok := newTokenServer(t)
			graph := newGraphServer(t, answer(http.StatusNoContent, "", "request-id", "req-ok"))
			cfg := testGraphConfig(tok, graph)
			cfg.Version = version
			g := newTestGraphSink(t, cfg, newFakeClock(), nil)

			// Whitespace, escapes and key order must reach Graph untouched.
			body := []byte("{\"quality\": {\"@odata.type\":\"#microsoft.graph.teleconferenceDeviceQuality\", \"deviceName\":\"Room <A>\"}}")
			info := &sendInfo{ID: "x"}
			if err := g.Send(withSendInfo(context.Background(), info), body); err != nil {
				t.Fatalf("Send: %v", err)
			}

			reqs := graph.requests()
			if len(reqs) != 1 {
				t.Fatalf("graph saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			checks := []struct{ what, got, want string }{
				{"method", r.method, http.MethodPost},
				{"path", r.path, "/" + version + "/communications/calls/logTeleconferenceDeviceQuality"},
				{"Authorization", r.header.Get("Authorization"), "Bearer token-1"},
				{"Content-Type", r.header.Get("Content-Type"), "application/json"},
				{"User-Agent", r.header.Get("User-Agent"), testUserAgent},
				{"body", string(r.body), string(body)},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
			if info.Status != http.StatusNoContent || info.RequestID != "req-ok" {
				t.Errorf("sendInfo = %+v, want status 204 and request-id req-ok", info)
			}

			if tok.hits() != 1 {
				t.Fatalf("token server hits = %d, want 1", tok.hits())
			}
			form := tok.forms[0]
			wantForm := map[string]string{
				"grant_type":    "client_credentials",
				"client_id":     cfg.ClientID,
				"client_secret": testSecret,
				"scope":         "https://graph.microsoft.com/.default",
			}
			for k, v := range wantForm {
				if form.Get(k) != v {
					t.Errorf("token form %s = %q, want %q", k, form.Get(k), v)
				}
			}
			if want := "/contoso.onmicrosoft.com/oauth2/v2.0/token"; tok.paths[0] != want {
				t.Errorf("token path = %q, want %q", tok.paths[0], want)
			}
		})
	}
}

func TestGraphSinkRefreshesTokenOnceOn401(t *testing.T) {
	tests := []struct {
		name       string
		answers    []http.HandlerFunc
		wantErr    bool
		wantTokens []string // Authorization per Graph request
	}{
		{
			name:       "revoked token then success",
			answers:    []http.HandlerFunc{answer(http.StatusUnauthorized, graphErrorBody("InvalidAuthenticationToken", "expired", "r1")), answer(http.StatusOK, "")},
			wantTokens: []string{"Bearer token-1", "Bearer token-2"},
		},
		{
			name:       "401 twice is retryable, not a loop",
			answers:    []http.HandlerFunc{answer(http.StatusUnauthorized, "")},
			wantErr:    true,
			wantTokens: []string{"Bearer token-1", "Bearer token-2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := newTokenServer(t)
			graph := newGraphServer(t, tt.answers...)
			g := newTestGraphSink(t, testGraphConfig(tok, graph), newFakeClock(), nil)

			err := g.Send(context.Background(), []byte(`{"quality":{}}`))
			if tt.wantErr {
				re, ok := errors.AsType[*RetryableError](err)
				if !ok || re.Status != http.StatusUnauthorized {
					t.Errorf("Send = %v, want RetryableError with status 401", err)
				}
			} else if err != nil {
				t.Errorf("Send: %v", err)
			}
			var got []string
			for _, r := range graph.requests() {
				got = append(got, r.header.Get("Authorization"))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantTokens) {
				t.Errorf("Authorization per request = %v, want %v", got, tt.wantTokens)
			}
			if tok.hits() != 2 {
				t.Errorf("token server hits = %d, want 2", tok.hits())
			}
		})
	}
}

func TestGraphSinkClassifiesAnswers(t *testing.T) {
	clk := newFakeClock()
	tests := []struct {
		name       string
		answer     http.HandlerFunc
		permanent  bool
		status     int
		retryAfter time.Duration
		code       string
		requestID  string
	}{
		{name: "429 retry-after seconds", answer: answer(429, graphErrorBody("TooManyRequests", "slow down", "r429"), "Retry-After", "120"),
			status: 429, retryAfter: 120 * time.Second, requestID: "r429"},
		{name: "429 retry-after http date", answer: answer(429, "", "Retry-After", clk.Now().Add(90*time.Second).Format(http.TimeFormat)),
			status: 429, retryAfter: 90 * time.Second},
		{name: "503", answer: answer(503, graphErrorBody("serviceNotAvailable", "try later", "r503")), status: 503, requestID: "r503"},
		{name: "500 request-id from header", answer: answer(500, "oops", "request-id", "h500"), status: 500, requestID: "h500"},
		{name: "408", answer: answer(408, ""), status: 408},
		{name: "409 unknown 4xx keeps the record", answer: answer(409, ""), status: 409},
		{name: "302 is not followed", answer: answer(302, "", "Location", "https://elsewhere.invalid/"), status: 302},
		{name: "400 graph error", answer: answer(400, graphErrorBody("BadRequest", "Invalid quality record", "r400")),
			permanent: true, status: 400, code: "BadRequest", requestID: "r400"},
		{name: "403", answer: answer(403, graphErrorBody("Authorization_RequestDenied", "no", "r403")),
			permanent: true, status: 403, code: "Authorization_RequestDenied", requestID: "r403"},
		{name: "404 request-id from header", answer: answer(404, "not graph", "request-id", "h404"), permanent: true, status: 404, requestID: "h404"},
		{name: "413", answer: answer(413, ""), permanent: true, status: 413},
		{name: "415", answer: answer(415, ""), permanent: true, status: 415},
		{name: "422", answer: answer(422, ""), permanent: true, status: 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := newTokenServer(t)
			graph := newGraphServer(t, tt.answer)
			g := newTestGraphSink(t, testGraphConfig(tok, graph), clk, nil)

			err := g.Send(context.Background(), []byte(`{"quality":{}}`))
			if n := len(graph.requests()); n != 1 {
				t.Errorf("graph saw %d requests, want 1", n)
			}
			if tt.permanent {
				pe, ok := errors.AsType[*PermanentError](err)
				if !ok {
					t.Fatalf("Send = %v, want PermanentError", err)
				}
				if pe.Status != tt.status || pe.Code != tt.code || pe.RequestID != tt.requestID {
					t.Errorf("PermanentError = %+v, want status %d code %q request-id %q", pe, tt.status, tt.code, tt.requestID)
				}
				return
			}
			re, ok := errors.AsType[*RetryableError](err)
			if !ok {
				t.Fatalf("Send = %v, want RetryableError", err)
			}
			if re.Status != tt.status || re.RetryAfter != tt.retryAfter {
				t.Errorf("RetryableError status %d retry-after %v, want %d %v", re.Status, re.RetryAfter, tt.status, tt.retryAfter)
			}
			if ae, _ := errors.AsType[*apiError](err); ae == nil || ae.RequestID != tt.requestID {
				t.Errorf("request-id in %v, want %q", err, tt.requestID)
			}
		})
	}
}

func TestGraphSinkNetworkErrorIsRetryable(t *testing.T) {
	tok := newTokenServer(t)
	graph := newGraphServer(t, answer(200, ""))
	g := newTestGraphSink(t, testGraphConfig(tok, graph), newFakeClock(), nil)
	graph.Close()

	err := g.Send(context.Background(), []byte(`{"quality":{}}`))
	if re, ok := errors.AsType[*RetryableError](err); !ok || re.Status != 0 {
		t.Errorf("Send to a closed server = %v, want RetryableError without status", err)
	}
}

func TestGraphSinkTokenEndpointRefusalIsRetryable(t *testing.T) {
	tok := newTokenServer(t)
	tok.refuse = http.StatusUnauthorized
	tok.refuseMsg = "AADSTS7000215: Invalid client secret provided."
	graph := newGraphServer(t, answer(200, ""))
	g := newTestGraphSink(t, testGraphConfig(tok, graph), newFakeClock(), nil)

	err := g.Send(context.Background(), []byte(`{"quality":{}}`))
	if _, ok := errors.AsType[*RetryableError](err); !ok {
		t.Fatalf("Send = %v, want RetryableError", err)
	}
	mustContain(t, err.Error(), "invalid_client")
	mustContain(t, err.Error(), "AADSTS7000215")
	if n := len(graph.requests()); n != 0 {
		t.Errorf("graph saw %d requests without a token", n)
	}
}

func TestGraphSinkCachesToken(t *testing.T) {
	tok := newTokenServer(t)
	graph := newGraphServer(t, answer(200, ""))
	g := newTestGraphSink(t, testGraphConfig(tok, graph), newFakeClock(), nil)
	for range 2 {
		if err := g.Send(context.Background(), []byte(`{"quality":{}}`)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if tok.hits() != 1 {
		t.Errorf("token server hits = %d, want 1 for two sends", tok.hits())
	}
	for i, r := range graph.requests() {
		if got := r.header.Get("Authorization"); got != "Bearer token-1" {
			t.Errorf("request %d Authorization = %q, want the cached token", i, got)
		}
	}
}

func TestGraphSinkRenewsTokenFiveMinutesBeforeExpiry(t *testing.T) {
	tok := newTokenServer(t)
	tok.expiresIn = 3600
	graph := newGraphServer(t, answer(200, ""))
	clk := newFakeClock()
	g := newTestGraphSink(t, testGraphConfig(tok, graph), clk, nil)
	send := func() {
		t.Helper()
		if err := g.Send(context.Background(), []byte(`{"quality":{}}`)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}

	send()
	clk.Advance(54*time.Minute + 59*time.Second) // 5m01s left: still good
	send()
	if tok.hits() != 1 {
		t.Errorf("token server hits with 5m01s left = %d, want 1", tok.hits())
	}
	clk.Advance(2 * time.Second) // 4m59s left: renew
	send()
	if tok.hits() != 2 {
		t.Errorf("token server hits with 4m59s left = %d, want 2", tok.hits())
	}
	reqs := graph.requests()
	if got := reqs[len(reqs)-1].header.Get("Authorization"); got != "Bearer token-2" {
		t.Errorf("Authorization after renewal = %q, want Bearer token-2", got)
	}
}

func TestParseTokenLifetime(t *testing.T) {
	sent := newFakeClock().Now()
	tests := []struct {
		name string
		body string
		want time.Time // expiry
		err  bool
	}{
		{"number", `{"access_token":"a","token_type":"Bearer","expires_in":3599}`, sent.Add(3599 * time.Second), false},
		{"string as in old Azure AD", `{"access_token":"a","token_type":"Bearer","expires_in":"3599"}`, sent.Add(3599 * time.Second), false},
		{"missing lifetime: use once", `{"access_token":"a"}`, sent, false},
		{"huge lifetime capped", `{"access_token":"a","expires_in":99999999999}`, sent.Add(24 * time.Hour), false},
		{"no token", `{"token_type":"Bearer","expires_in":3599}`, time.Time{}, true},
		{"not bearer", `{"access_token":"a","token_type":"mac"}`, time.Time{}, true},
		{"not json", `<html>`, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, exp, err := parseToken([]byte(tt.body), sent)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if !exp.Equal(tt.want) {
				t.Errorf("expiry = %v, want %v", exp, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := newFakeClock().Now()
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"120", 120 * time.Second},
		{" 7 ", 7 * time.Second},
		{"99999999999999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(30 * time.Second).Format(time.RFC850), 30 * time.Second},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.header, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestNewGraphSinkRejectsIncompleteConfig(t *testing.T) {
	cfg := DefaultConfig().Graph
	if _, err := NewGraphSink(cfg, testUserAgent, nil); err == nil {
		t.Error("NewGraphSink without tenant, client id and secret succeeded")
	} else {
		mustContain(t, err.Error(), "uploader.graph.client_id")
	}
	cfg.TenantID, cfg.ClientID, cfg.ClientSecretEnv = "contoso", "id", "TDQ_TEST_UNSET_SECRET"
	if _, err := NewGraphSink(cfg, testUserAgent, nil); err == nil {
		t.Error("NewGraphSink with an unset secret variable succeeded")
	} else {
		mustContain(t, err.Error(), "uploader.graph.client_secret_env")
	}
	cfg.ClientSecretEnv, cfg.ClientSecret = "", testSecret
	if _, err := NewGraphSink(cfg, "", nil); err == nil {
		t.Error("NewGraphSink without a user agent succeeded")
	}
}
