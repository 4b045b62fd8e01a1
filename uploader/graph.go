package uploader

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// maxGraphResponse bounds what is read of a Graph answer; error bodies are small.
const maxGraphResponse = 64 << 10

// maxRetryAfter caps a Retry-After header so a bogus value cannot park records for weeks.
const maxRetryAfter = 24 * time.Hour

// graphSink posts records to Graph's logTeleconferenceDeviceQuality action.
type graphSink struct {
	url       string
	userAgent string
	timeout   time.Duration
	client    *http.Client
	tokens    *tokenSource
	now       func() time.Time
	log       *zap.Logger
}

// NewGraphSink returns a Sink that posts each body to Graph with an app-only token from MSAL. It
// fails early if the config is incomplete or the credential cannot be read, so a misconfigured
// agent stops at start rather than at its first call.
func NewGraphSink(cfg GraphConfig, userAgent string, log *zap.Logger) (Sink, error) {
	return newGraphSink(cfg, userAgent, log, nil)
}

// newGraphSink takes the TLS roots to trust (nil: the system's), which tests set to their local
// authority's and Graph's.
func newGraphSink(cfg GraphConfig, userAgent string, log *zap.Logger, roots *x509.CertPool) (*graphSink, error) {
	if errs := cfg.validate("uploader.graph."); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if _, err := cfg.credential(); err != nil {
		return nil, err
	}
	if userAgent == "" {
		return nil, errors.New("graph sink: user agent required (e.g. tdq-agent/1.2.3)")
	}
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("component", "uploader"))
	transport := http.DefaultTransport.(*http.Transport).Clone() // keeps proxy-from-environment
	if roots != nil {
		transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{
		Transport: transport,
		// Graph does not redirect this action; following one would hand the record, and on a
		// same-host redirect the token, to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		// Bounds MSAL's own requests too (discovery, token), whatever context it is given.
		Timeout: cfg.Timeout,
	}
	g := &graphSink{
		url:       cfg.postURL(),
		userAgent: userAgent,
		timeout:   cfg.Timeout,
		client:    client,
		now:       time.Now,
		log:       log,
	}
	g.tokens = &tokenSource{
		authority: cfg.authority(),
		clientID:  cfg.ClientID,
		scopes:    cfg.scopes(),
		cred:      cfg.credential,
		client:    client,
		timeout:   cfg.Timeout,
		log:       log,
	}
	return g, nil
}

// graphResponse is what is kept of an answer once its body has been read and closed.
type graphResponse struct {
	status int
	header http.Header
	body   []byte
}

// Send posts body once, or twice when Graph answers 401: the cached token may have been revoked
// before its expiry, so it is dropped and the post repeated once with a fresh one.
func (g *graphSink) Send(ctx context.Context, body []byte) error {
	tok, err := g.tokens.token(ctx)
	if err != nil {
		return tokenFailure(err)
	}
	resp, err := g.post(ctx, tok, body)
	if err != nil {
		return &RetryableError{Err: err}
	}
	if resp.status == http.StatusUnauthorized {
		g.tokens.invalidate(tok)
		g.log.Info("graph refused the access token; fetching a new one",
			zap.String("request_id", resp.header.Get("request-id")))
		if tok, err = g.tokens.token(ctx); err != nil {
			return tokenFailure(err)
		}
		if resp, err = g.post(ctx, tok, body); err != nil {
			return &RetryableError{Err: err}
		}
	}
	return g.classify(ctx, resp)
}

func tokenFailure(err error) error {
	re := &RetryableError{Err: err}
	if te, ok := errors.AsType[*tokenError](err); ok {
		re.Status, re.RetryAfter = te.Status, te.RetryAfter
	}
	return re
}

func (g *graphSink) post(ctx context.Context, tok string, body []byte) (graphResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		return graphResponse{}, fmt.Errorf("build graph request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", g.userAgent)
	resp, err := g.client.Do(req)
	if err != nil {
		// *url.Error names the method and URL only; headers, and so the token, are not in it.
		return graphResponse{}, fmt.Errorf("post record: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxGraphResponse))
	if err != nil && resp.StatusCode/100 != 2 {
		return graphResponse{}, fmt.Errorf("read graph response: %w", err)
	}
	// A 2xx whose body breaks off is still an acceptance: Graph has the record.
	return graphResponse{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// classify turns Graph's answer into nil, a *PermanentError or a *RetryableError. Statuses
// outside both documented lists (other 4xx, 3xx) are retried: when unsure, keep the record.
func (g *graphSink) classify(ctx context.Context, resp graphResponse) error {
	if resp.status/100 == 2 {
		info := sendInfoFrom(ctx)
		info.Status, info.RequestID = resp.status, resp.header.Get("request-id")
		return nil
	}
	ae := parseGraphError(resp)
	switch resp.status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return &PermanentError{Status: ae.Status, Code: ae.Code, Message: ae.Message, RequestID: ae.RequestID}
	}
	return &RetryableError{
		Status:     resp.status,
		RetryAfter: retryAfter(resp.header.Get("Retry-After"), g.now()),
		Err:        ae,
	}
}

// parseGraphError reads {"error":{"code","message","innerError":{"request-id","date"}}}; a body
// that is not Graph's (from a proxy, say) still gives the status and the request-id header.
func parseGraphError(resp graphResponse) *apiError {
	var body struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	_ = json.Unmarshal(resp.body, &body)
	ae := &apiError{
		Status:    resp.status,
		Code:      body.Error.Code,
		Message:   truncate(body.Error.Message, 512),
		RequestID: body.Error.InnerError.RequestID,
	}
	if ae.RequestID == "" {
		ae.RequestID = resp.header.Get("request-id")
	}
	return ae
}

// retryAfter reads a Retry-After header in either form RFC 9110 allows: delay-seconds or an
// HTTP date. Anything unparsable, or a date in the past, means no hint.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// TokenRenewals counts the access tokens the authority issued, for the agent's metrics.
func (g *graphSink) TokenRenewals() uint64 { return g.tokens.renewals.Load() }
