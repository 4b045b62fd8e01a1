package uploader

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

const (
	testSecret    = "S3cr3t-Value-4f9d"
	testUserAgent = "tdq-agent/1.2.3-test"
)

// graphRequest is what the fake Graph saw of one request.
type graphRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

// graphServer is a fake Graph over TLS that answers each request with the next scripted handler
// (the last one repeats) and logs "graph <status>" (or the label a handler sets) to events.
type graphServer struct {
	*httptest.Server
	log     *events
	mu      sync.Mutex
	reqs    []graphRequest
	answers []http.HandlerFunc
}

func newGraphServer(t *testing.T, log *events, answers ...http.HandlerFunc) *graphServer {
	gs := &graphServer{log: log, answers: answers}
	gs.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		gs.mu.Lock()
		gs.reqs = append(gs.reqs, graphRequest{r.Method, r.URL.Path, r.Header.Clone(), body})
		answer := gs.answers[min(len(gs.reqs), len(gs.answers))-1]
		gs.mu.Unlock()
		rec := &statusRecorder{ResponseWriter: w, log: log}
		answer(rec, r)
		rec.logOnce(fmt.Sprintf("graph %d", rec.status))
	}))
	t.Cleanup(gs.Close)
	return gs
}

func (gs *graphServer) requests() []graphRequest {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	return append([]graphRequest(nil), gs.reqs...)
}

// statusRecorder notes the status a handler wrote; Hijack passes through for reset().
type statusRecorder struct {
	http.ResponseWriter
	status int
	log    *events
	logged bool
}

// logOnce records the request's outcome; handlers that end the connection themselves call it
// first, because the client may see the end before the handler returns.
func (r *statusRecorder) logOnce(label string) {
	if !r.logged {
		r.logged = true
		r.log.add(label)
	}
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return r.ResponseWriter.(http.Hijacker).Hijack()
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

// hang never answers: the request stays open until the client gives up.
func hang() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		w.(*statusRecorder).logOnce("graph hung")
	}
}

// reset reads the request and tears the TCP connection down with an RST (SO_LINGER 0), as a
// crashing load balancer would.
func reset() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.(*statusRecorder).logOnce("graph reset")
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*tls.Conn); ok {
			conn = tc.NetConn()
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
}

func graphErrorBody(code, message, requestID string) string {
	return fmt.Sprintf(`{"error":{"code":%q,"message":%q,"innerError":{"request-id":%q,"date":"2025-03-01T12:00:00"}}}`,
		code, message, requestID)
}

func testGraphConfig(auth *authority, graph *graphServer) GraphConfig {
	cfg := DefaultConfig().Graph
	cfg.BaseURL = graph.URL
	cfg.AuthorityURL = auth.URL
	cfg.TenantID = auth.tenant
	cfg.ClientID = auth.clientID
	cfg.ClientSecret = testSecret
	cfg.Timeout = 5 * time.Second
	return cfg
}

func newTestGraphSink(t *testing.T, cfg GraphConfig, clk *fakeClock, log *zap.Logger, srv *httptest.Server) *graphSink {
	t.Helper()
	g, err := newGraphSink(cfg, testUserAgent, log, testRoots(srv))
	if err != nil {
		t.Fatalf("newGraphSink: %v", err)
	}
	g.now = clk.Now
	t.Cleanup(g.client.CloseIdleConnections)
	return g
}

// newTestPair starts an authority and a Graph with the given script and a sink between them.
func newTestPair(t *testing.T, clk *fakeClock, log *zap.Logger, answers ...http.HandlerFunc) (*graphSink, *authority, *graphServer, *events) {
	t.Helper()
	ev := &events{}
	auth := newAuthority(t, ev)
	graph := newGraphServer(t, ev, answers...)
	return newTestGraphSink(t, testGraphConfig(auth, graph), clk, log, graph.Server), auth, graph, ev
}

func TestGraphSinkPostsRecord(t *testing.T) {
	for _, version := range []string{"v1.0", "beta"} {
		t.Run(version, func(t *testing.T) {
			ev := &events{}
			auth := newAuthority(t, ev)
			graph := newGraphServer(t, ev, answer(http.StatusNoContent, "", "request-id", "req-ok"))
			cfg := testGraphConfig(auth, graph)
			cfg.Version = version
			g := newTestGraphSink(t, cfg, newFakeClock(), nil, graph.Server)

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
			if got, want := ev.list(), []string{"discovery", "token", "graph 204"}; !slices.Equal(got, want) {
				t.Errorf("requests = %v, want %v", got, want)
			}
			form := auth.form(0)
			// MSAL adds "openid offline_access profile" to every scope list; Entra ignores them
			// for the client credentials grant.
			if scopes := strings.Fields(form.Get("scope")); len(scopes) == 0 || scopes[0] != "https://graph.microsoft.com/.default" {
				t.Errorf("token form scope = %q, want https://graph.microsoft.com/.default first", form.Get("scope"))
			}
			wantForm := map[string]string{
				"grant_type":    "client_credentials",
				"client_id":     cfg.ClientID,
				"client_secret": testSecret,
			}
			for k, v := range wantForm {
				if form.Get(k) != v {
					t.Errorf("token form %s = %q, want %q", k, form.Get(k), v)
				}
			}
		})
	}
}

// Each cloud asks its own login host for a token to its own Graph; China is refused by name.
func TestGraphClouds(t *testing.T) {
	tests := []struct {
		cloud, post, authority, scope string
	}{
		{CloudGlobal, "https://graph.microsoft.com/v1.0/communications/calls/logTeleconferenceDeviceQuality",
			"https://login.microsoftonline.com/t1", "https://graph.microsoft.com/.default"},
		{CloudUSGov, "https://graph.microsoft.us/v1.0/communications/calls/logTeleconferenceDeviceQuality",
			"https://login.microsoftonline.us/t1", "https://graph.microsoft.us/.default"},
		{CloudDoD, "https://dod-graph.microsoft.us/v1.0/communications/calls/logTeleconferenceDeviceQuality",
			"https://login.microsoftonline.us/t1", "https://dod-graph.microsoft.us/.default"},
	}
	for _, tt := range tests {
		t.Run(tt.cloud, func(t *testing.T) {
			cfg := validGraphConfig()
			cfg.Graph.Cloud, cfg.Graph.TenantID = tt.cloud, "t1"
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := cfg.Graph.postURL(); got != tt.post {
				t.Errorf("post URL = %q, want %q", got, tt.post)
			}
			if got := cfg.Graph.authority(); got != tt.authority {
				t.Errorf("authority = %q, want %q", got, tt.authority)
			}
			if got := cfg.Graph.scopes(); len(got) != 1 || got[0] != tt.scope {
				t.Errorf("scopes = %q, want %q", got, tt.scope)
			}
		})
	}
	cfg := validGraphConfig()
	cfg.Graph.Cloud = CloudChina
	err := cfg.Validate()
	if err == nil {
		t.Fatal("cloud china validated")
	}
	mustContain(t, err.Error(), "uploader.graph.cloud: \"china\" is not supported")
	mustContain(t, err.Error(), "no logTeleconferenceDeviceQuality action")
}

// A certificate in any of the forms admins have (PEM, PFX with and without a password) signs a
// client assertion the authority verifies: PS256 with the certificate's key, x5t#S256 in
// standard base64. The password may come from the config, the environment or a file.
func TestGraphSinkCertificateCredential(t *testing.T) {
	cert, key := testCert(t)
	const password = "Pfx-Pa55-7c1e"
	tests := []struct {
		name, format string
		set          func(g *GraphConfig, file string)
	}{
		{"pem", "pem", func(g *GraphConfig, f string) { g.CertificateFile = f }},
		{"pfx password inline", "pfx", func(g *GraphConfig, f string) { g.CertificateFile, g.CertificatePassword = f, password }},
		{"pfx password env", "pfx", func(g *GraphConfig, f string) {
			t.Setenv("TDQ_TEST_PFX_PASSWORD", password)
			g.CertificateFile, g.CertificatePasswordEnv = f, "TDQ_TEST_PFX_PASSWORD"
		}},
		{"pfx password file", "pfx", func(g *GraphConfig, f string) {
			p := filepath.Join(t.TempDir(), "pw")
			os.WriteFile(p, []byte(password+"\n"), 0o600)
			g.CertificateFile, g.CertificatePasswordFile = f, p
		}},
		{"pfx without password", "pfx-nopass", func(g *GraphConfig, f string) { g.CertificateFile = f }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &events{}
			auth := newAuthority(t, ev)
			auth.cert = cert
			graph := newGraphServer(t, ev, answer(http.StatusOK, ""))
			cfg := testGraphConfig(auth, graph)
			cfg.ClientSecret = ""
			tt.set(&cfg, writeCertFile(t, cert, key, tt.format, password))
			g := newTestGraphSink(t, cfg, newFakeClock(), nil, graph.Server)
			if err := g.Send(context.Background(), []byte(`{"quality":{}}`)); err != nil {
				t.Fatalf("Send: %v (authority refused: %v)", err, auth.refusals())
			}
			if bad := auth.refusals(); len(bad) != 0 {
				t.Errorf("authority refused: %v", bad)
			}
			if got := auth.form(0).Get("client_secret"); got != "" {
				t.Errorf("a client secret was sent with a certificate credential")
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		cfg := validGraphConfig()
		cfg.Graph.ClientSecret = ""
		cfg.Graph.CertificateFile = writeCertFile(t, cert, key, "pfx", password)
		cfg.Graph.CertificatePassword = "not-" + password
		_, err := NewGraphSink(cfg.Graph, testUserAgent, nil)
		if err == nil {
			t.Fatal("a wrong certificate password was accepted")
		}
		mustContain(t, err.Error(), "uploader.graph.certificate_file")
		mustContain(t, err.Error(), "wrong certificate password")
		if strings.Contains(err.Error(), password) {
			t.Errorf("error quotes the password: %v", err)
		}
	})
	t.Run("certificate of another app", func(t *testing.T) {
		other, otherKey := testCert(t)
		ev := &events{}
		auth := newAuthority(t, ev)
		auth.cert = cert
		graph := newGraphServer(t, ev, answer(http.StatusOK, ""))
		cfg := testGraphConfig(auth, graph)
		cfg.ClientSecret, cfg.CertificateFile = "", writeCertFile(t, other, otherKey, "pem", "")
		g := newTestGraphSink(t, cfg, newFakeClock(), nil, graph.Server)
		err := g.Send(context.Background(), []byte(`{"quality":{}}`))
		if _, ok := errors.AsType[*RetryableError](err); !ok {
			t.Fatalf("Send with an unknown certificate = %v, want a RetryableError", err)
		}
		if n := len(graph.requests()); n != 0 {
			t.Errorf("graph saw %d requests without a token", n)
		}
	})
}

// MSAL would keep handing out the refused token from its cache; the sink drops the client, so
// the retry carries a new token, fetched once.
func TestGraphSinkRefreshesTokenOnceOn401(t *testing.T) {
	tests := []struct {
		name       string
		answers    []http.HandlerFunc
		wantErr    bool
		wantTokens []string // Authorization per Graph request
		wantSeq    []string
	}{
		{
			name:       "revoked token then success",
			answers:    []http.HandlerFunc{answer(http.StatusUnauthorized, graphErrorBody("InvalidAuthenticationToken", "expired", "r1")), answer(http.StatusOK, "")},
			wantTokens: []string{"Bearer token-1", "Bearer token-2"},
			wantSeq:    []string{"discovery", "token", "graph 401", "discovery", "token", "graph 200"},
		},
		{
			name:       "401 twice is retryable, not a loop",
			answers:    []http.HandlerFunc{answer(http.StatusUnauthorized, "")},
			wantErr:    true,
			wantTokens: []string{"Bearer token-1", "Bearer token-2"},
			wantSeq:    []string{"discovery", "token", "graph 401", "discovery", "token", "graph 401"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _, graph, ev := newTestPair(t, newFakeClock(), nil, tt.answers...)
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
			if !slices.Equal(got, tt.wantTokens) {
				t.Errorf("Authorization per request = %v, want %v", got, tt.wantTokens)
			}
			if !slices.Equal(ev.list(), tt.wantSeq) {
				t.Errorf("requests = %v, want %v", ev.list(), tt.wantSeq)
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
		{name: "502", answer: answer(502, ""), status: 502},
		{name: "504", answer: answer(504, ""), status: 504},
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
			g, _, graph, _ := newTestPair(t, clk, nil, tt.answer)
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

// No answer at all: a closed port, a hung response (the client's timeout ends it), a reset
// connection. Each is retryable with no status.
func TestGraphSinkNetworkFailuresAreRetryable(t *testing.T) {
	tests := []struct {
		name    string
		answer  http.HandlerFunc
		closed  bool
		wantSeq []string
	}{
		{name: "closed port", answer: answer(200, ""), closed: true, wantSeq: []string{"discovery", "token"}},
		{name: "hung response", answer: hang(), wantSeq: []string{"discovery", "token", "graph hung"}},
		{name: "connection reset", answer: reset(), wantSeq: []string{"discovery", "token", "graph reset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &events{}
			auth := newAuthority(t, ev)
			graph := newGraphServer(t, ev, tt.answer)
			cfg := testGraphConfig(auth, graph)
			cfg.Timeout = 300 * time.Millisecond
			g := newTestGraphSink(t, cfg, newFakeClock(), nil, graph.Server)
			if tt.closed {
				graph.Close()
			}
			start := time.Now()
			err := g.Send(context.Background(), []byte(`{"quality":{}}`))
			if re, ok := errors.AsType[*RetryableError](err); !ok || re.Status != 0 {
				t.Errorf("Send = %v, want RetryableError without status", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Send took %s, want about the 300ms timeout at most", took)
			}
			graph.Close() // waits for the hung handler to see the client go
			if !slices.Equal(ev.list(), tt.wantSeq) {
				t.Errorf("requests = %v, want %v", ev.list(), tt.wantSeq)
			}
		})
	}
}

func TestGraphSinkTokenEndpointRefusalIsRetryable(t *testing.T) {
	g, auth, graph, _ := newTestPair(t, newFakeClock(), nil, answer(200, ""))
	auth.setRefuse(http.StatusServiceUnavailable, "AADSTS90033: A transient error has occurred.", "30")

	err := g.Send(context.Background(), []byte(`{"quality":{}}`))
	re, ok := errors.AsType[*RetryableError](err)
	if !ok {
		t.Fatalf("Send = %v, want RetryableError", err)
	}
	if re.Status != http.StatusServiceUnavailable || re.RetryAfter != 30*time.Second {
		t.Errorf("RetryableError status %d retry-after %v, want 503 and 30s from the authority", re.Status, re.RetryAfter)
	}
	mustContain(t, err.Error(), "AADSTS90033")
	if n := len(graph.requests()); n != 0 {
		t.Errorf("graph saw %d requests without a token", n)
	}
	auth.setRefuse(0, "", "")
	if err := g.Send(context.Background(), []byte(`{"quality":{}}`)); err != nil {
		t.Errorf("Send after the authority recovered: %v", err)
	}
}

func TestGraphSinkCachesToken(t *testing.T) {
	g, auth, graph, _ := newTestPair(t, newFakeClock(), nil, answer(200, ""))
	for range 2 {
		if err := g.Send(context.Background(), []byte(`{"quality":{}}`)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if auth.hits() != 1 {
		t.Errorf("token requests = %d, want 1 for two sends", auth.hits())
	}
	for i, r := range graph.requests() {
		if got := r.header.Get("Authorization"); got != "Bearer token-1" {
			t.Errorf("request %d Authorization = %q, want the cached token", i, got)
		}
	}
}

// MSAL keeps a token until 5 minutes before it expires, on the real clock (it takes no other):
// a token issued for 5m02s is served from the cache at once and renewed 2 s later.
func TestGraphSinkRenewsTokenFiveMinutesBeforeExpiry(t *testing.T) {
	g, auth, graph, _ := newTestPair(t, newFakeClock(), nil, answer(200, ""))
	auth.expiresIn = 302
	send := func() {
		t.Helper()
		if err := g.Send(context.Background(), []byte(`{"quality":{}}`)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	send()
	send()
	if auth.hits() != 1 {
		t.Errorf("token requests with over 5 minutes left = %d, want 1", auth.hits())
	}
	time.Sleep(2500 * time.Millisecond)
	send()
	if auth.hits() != 2 {
		t.Errorf("token requests with under 5 minutes left = %d, want 2", auth.hits())
	}
	reqs := graph.requests()
	if got := reqs[len(reqs)-1].header.Get("Authorization"); got != "Bearer token-2" {
		t.Errorf("Authorization after renewal = %q, want Bearer token-2", got)
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
	cfg.ClientSecretEnv, cfg.CertificateFile = "", filepath.Join(t.TempDir(), "missing.pfx")
	if _, err := NewGraphSink(cfg, testUserAgent, nil); err == nil {
		t.Error("NewGraphSink with a missing certificate file succeeded")
	} else {
		mustContain(t, err.Error(), "uploader.graph.certificate_file")
	}
	cfg.CertificateFile, cfg.ClientSecret = "", testSecret
	if _, err := NewGraphSink(cfg, "", nil); err == nil {
		t.Error("NewGraphSink without a user agent succeeded")
	}
}
