package uploader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

// renewBefore is how long before expiry a cached token is replaced, as MSAL does, so a token
// never expires between being handed out and reaching Graph.
const renewBefore = 5 * time.Minute

// maxTokenResponse bounds what is read from the token endpoint; real answers are a few KB.
const maxTokenResponse = 1 << 20

// tokenSource obtains app-only access tokens with the OAuth2 client credentials grant
// (client_secret_post) and caches them. It is hand-written rather than x/oauth2 so the clock is
// injectable and the renewal margin is exactly renewBefore.
type tokenSource struct {
	endpoint string
	clientID string
	scope    string
	secret   func() (string, error)
	client   *http.Client
	timeout  time.Duration
	now      func() time.Time
	log      *zap.Logger

	// mu guards cached and expiry. It is held across a fetch so that concurrent callers wait for
	// one request instead of each asking the endpoint.
	mu     sync.Mutex
	cached string
	expiry time.Time
}

// tokenError is a refusal from the token endpoint, e.g. invalid_client for a wrong secret.
type tokenError struct {
	Status      int
	Code        string
	Description string
	RetryAfter  time.Duration
}

func (e *tokenError) Error() string {
	s := fmt.Sprintf("token endpoint answered %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// token returns a cached token that is valid for at least renewBefore more, or fetches one.
func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.cached != "" && ts.now().Before(ts.expiry.Add(-renewBefore)) {
		return ts.cached, nil
	}
	tok, expiry, err := ts.fetch(ctx)
	if err != nil {
		return "", err
	}
	ts.cached, ts.expiry = tok, expiry
	ts.log.Debug("access token acquired", zap.Time("expires_at", expiry))
	return tok, nil
}

// invalidate drops the cached token if it is still the one Graph refused, so that a token a
// concurrent caller already renewed is not thrown away.
func (ts *tokenSource) invalidate(tok string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.cached == tok {
		ts.cached, ts.expiry = "", time.Time{}
	}
}

func (ts *tokenSource) fetch(ctx context.Context) (string, time.Time, error) {
	secret, err := ts.secret()
	if err != nil {
		return "", time.Time{}, err
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {ts.clientID},
		"client_secret": {secret},
		"scope":         {ts.scope},
	}
	ctx, cancel := context.WithTimeout(ctx, ts.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	sent := ts.now()
	resp, err := ts.client.Do(req)
	if err != nil {
		// *url.Error names the method and URL only; the secret is in the body.
		return "", time.Time{}, fmt.Errorf("request token: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("read token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", time.Time{}, refusal(resp, data, secret, sent)
	}
	return parseToken(data, sent)
}

func refusal(resp *http.Response, data []byte, secret string, now time.Time) error {
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(data, &body) // a non-JSON refusal still yields its status
	return &tokenError{
		Status: resp.StatusCode,
		Code:   body.Error,
		// An endpoint that echoes the request would put the secret in our logs; mask it.
		Description: strings.ReplaceAll(truncate(body.Description, 512), secret, redacted),
		RetryAfter:  retryAfter(resp.Header.Get("Retry-After"), now),
	}
}

// parseToken reads the token response. Expiry counts from when the request was sent, which errs
// on the early side.
func parseToken(data []byte, sent time.Time) (string, time.Time, error) {
	var body struct {
		AccessToken string      `json:"access_token"`
		TokenType   string      `json:"token_type"`
		ExpiresIn   json.Number `json:"expires_in"` // a number, or a string in older Azure AD answers
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return "", time.Time{}, fmt.Errorf("parse token response: %w", err)
	}
	if body.AccessToken == "" {
		return "", time.Time{}, errors.New("parse token response: no access_token")
	}
	if body.TokenType != "" && !strings.EqualFold(body.TokenType, "bearer") {
		return "", time.Time{}, fmt.Errorf("parse token response: token_type %q is not Bearer", body.TokenType)
	}
	secs, err := body.ExpiresIn.Int64()
	if err != nil || secs <= 0 {
		// Without a lifetime the token is used for this request only.
		return body.AccessToken, sent, nil
	}
	secs = min(secs, 24*3600) // a bogus huge lifetime must not overflow or pin a token for ever
	return body.AccessToken, sent.Add(time.Duration(secs) * time.Second), nil
}

// truncate keeps error text from a remote server to a loggable size, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
