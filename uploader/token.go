package uploader

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"go.uber.org/zap"
)

// tokenSource obtains app-only Graph tokens with MSAL's confidential client (client credentials
// grant, secret or certificate). MSAL caches the token and renews it 5 minutes before expiry;
// what MSAL does not do is drop a token Graph has refused: after a 401 it would hand out the same
// cached token until it expires. invalidate therefore throws the whole client away, and the next
// token comes from a fresh client (and a freshly read credential).
type tokenSource struct {
	authority string
	clientID  string
	scopes    []string
	cred      func() (appCredential, error)
	client    *http.Client
	timeout   time.Duration
	log       *zap.Logger

	// mu guards app, secrets and last. It is held across a token request so that concurrent
	// callers wait for one request instead of each asking the authority.
	mu      sync.Mutex
	app     *confidential.Client
	secrets []string // of the current credential, to scrub from error text
	last    string   // the token app last handed out

	renewals atomic.Uint64 // tokens the authority issued (not served from MSAL's cache)
}

// tokenError is a refusal or failure from the authority, scrubbed of secrets.
type tokenError struct {
	Status     int // HTTP status from the authority, 0 when none arrived
	RetryAfter time.Duration
	msg        string
}

func (e *tokenError) Error() string { return e.msg }

// token returns an access token valid for at least 5 more minutes.
func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.app == nil {
		if err := ts.build(); err != nil {
			return "", err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, ts.timeout)
	defer cancel()
	res, err := ts.app.AcquireTokenByCredential(ctx, ts.scopes)
	if err != nil {
		// A refused credential may have been rotated since: read it again next time.
		ts.app = nil
		return "", ts.failure(err)
	}
	if res.AccessToken != ts.last {
		ts.renewals.Add(1)
		ts.log.Debug("access token acquired", zap.Time("expires_at", res.ExpiresOn))
	}
	ts.last = res.AccessToken
	return res.AccessToken, nil
}

func (ts *tokenSource) build() error {
	c, err := ts.cred()
	if err != nil {
		return err
	}
	app, err := confidential.New(ts.authority, ts.clientID, c.cred,
		confidential.WithHTTPClient(ts.client),
		// Instance discovery asks login.microsoftonline.com about the authority first, which
		// sovereign clouds behind a proxy and local test authorities cannot answer; the
		// authority comes from our own table of clouds, so there is nothing to discover.
		confidential.WithInstanceDiscovery(false))
	if err != nil {
		return fmt.Errorf("create msal client for %s: %s", ts.authority, redact(err.Error(), c.secrets...))
	}
	ts.app, ts.secrets = &app, c.secrets
	return nil
}

// invalidate drops the client, and so its cache, if tok is still the token it hands out; a token
// a concurrent caller already renewed is kept.
func (ts *tokenSource) invalidate(tok string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.last == tok {
		ts.app, ts.last = nil, ""
	}
}

// failure turns an MSAL error into a tokenError. MSAL's text carries the authority's answer,
// which may echo what was sent; it is scrubbed of the secret and cut to a loggable size.
func (ts *tokenSource) failure(err error) error {
	te := &tokenError{msg: "get access token: " + truncate(redact(err.Error(), ts.secrets...), 1024)}
	if ce, ok := errors.AsType[msalerrors.CallErr](err); ok && ce.Resp != nil {
		te.Status = ce.Resp.StatusCode
		te.RetryAfter = retryAfter(ce.Resp.Header.Get("Retry-After"), time.Now())
	}
	return te
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
