package ops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// shutdownTimeout bounds how long Serve waits for requests in flight once its context ends.
const shutdownTimeout = 5 * time.Second

// Server serves /healthz, /metrics and the control input /v1/calls on a loopback address.
type Server struct {
	cfg     Config
	log     *zap.Logger
	status  StatusSource
	token   string
	ids     *Identities
	snap    *snapshotCollector
	latency prometheus.Histogram
	handler http.Handler
	refused rateLimited

	// addr is the bound address, set before listening is closed; for tests on port 0.
	addr      net.Addr
	listening chan struct{}
}

// New checks cfg, reads the control token from cfg.TokenFile or creates that file (mode 0600)
// with a new random token, and builds the server. It does not listen: Serve does.
func New(cfg Config, log *zap.Logger, st StatusSource) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		return nil, errors.New("ops.listen: empty, the endpoints are off: do not build a server")
	}
	if st == nil {
		return nil, errors.New("ops: no status source")
	}
	log = log.With(zap.String("component", "ops"))
	tok, err := loadOrCreateToken(cfg.TokenFile, log)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		log:       log,
		status:    st,
		token:     tok,
		ids:       NewIdentities(time.Now),
		snap:      newSnapshotCollector(),
		latency:   newLatencyHistogram(),
		refused:   rateLimited{every: time.Minute},
		listening: make(chan struct{}),
	}
	reg := newRegistry(s.snap, s.latency, s.ids)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: zap.NewStdLog(log), ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.Handle("POST /v1/calls", s.authorized(s.handleAnnounce))
	mux.Handle("GET /v1/calls", s.authorized(s.handleList))
	mux.Handle("POST /v1/calls/{callChainId}/end", s.authorized(s.handleEnd))
	s.handler = s.loopbackOnly(mux)
	return s, nil
}

// Identities is the store the control input fills; the agent reads it (Lookup, Ended).
func (s *Server) Identities() *Identities { return s.ids }

// Handler is the server's whole HTTP handler, checks included.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve listens on cfg.Listen and serves until ctx ends; then it stops accepting, waits up to
// 5 s for requests in flight, and returns nil. It returns an error if it cannot listen or the
// listener fails. Call it once.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("ops.listen: %w", err)
	}
	return s.serve(ctx, ln)
}

func (s *Server) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          zap.NewStdLog(s.log),
	}
	s.addr = ln.Addr()
	close(s.listening)
	s.log.Info("ops endpoints listening", zap.Stringer("addr", ln.Addr()), zap.String("token_file", s.cfg.TokenFile))

	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Add(1)
	go func() { // ends when Shutdown closes the listener, or the listener fails
		defer wg.Done()
		errc <- srv.Serve(ln)
	}()
	defer wg.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("ops: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close() // requests still running past the deadline are cut off
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ops: serve %s: %w", ln.Addr(), err)
	}
	s.log.Info("ops endpoints stopped")
	return nil
}

// loopbackOnly refuses (403) any connection whose remote address is not loopback, though the
// listener is loopback-only (defence in depth, e.g. against a listen address changed by
// mistake), and any request whose Host is not a loopback address or "localhost" (a web page
// the device's browser opens cannot reach the endpoints by DNS rebinding).
func (s *Server) loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			s.refuse(w, r, http.StatusForbidden, fmt.Sprintf("remote address %s is not loopback: the ops endpoints serve this device only", r.RemoteAddr))
			return
		}
		if !loopbackHost(r.Host) {
			s.refuse(w, r, http.StatusForbidden, fmt.Sprintf("host %q is not a loopback address or localhost", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// authorized refuses (401) a request without "Authorization: Bearer <token>" or with another
// token.
func (s *Server) authorized(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tdq-agent"`)
			s.refuse(w, r, http.StatusUnauthorized, "missing bearer token: send \"Authorization: Bearer <token>\" with the token in ops.token_file")
			return
		}
		if !tokenMatches(strings.TrimSpace(tok), s.token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tdq-agent", error="invalid_token"`)
			s.refuse(w, r, http.StatusUnauthorized, "wrong bearer token: use the token in ops.token_file")
			return
		}
		next(w, r)
	})
}

// refuse answers an error and logs it, at most once a minute with a count of those left out: a
// misconfigured client retrying in a loop must not flood the log. The token is never logged.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if n, ok := s.refused.allow(time.Now()); ok {
		s.log.Warn("ops request refused", zap.Int("status", code), zap.String("method", r.Method),
			zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr), zap.String("reason", msg),
			zap.Uint64("refused_since_last_line", n))
	}
	writeError(w, code, msg)
}

// rateLimited lets one event through per period and counts the rest.
type rateLimited struct {
	every time.Duration

	mu         sync.Mutex // guards last and suppressed
	last       time.Time
	suppressed uint64
}

// allow reports whether to log now, and how many events were left out since the last line.
func (l *rateLimited) allow(now time.Time) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return 0, false
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return n, true
}
