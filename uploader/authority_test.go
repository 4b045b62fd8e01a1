package uploader

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// events is the ordered log of requests a test's servers saw ("discovery", "token",
// "graph 503", ...), shared by the authority and Graph so a test can assert the exact sequence.
type events struct {
	mu  sync.Mutex
	seq []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.seq = append(e.seq, s)
	e.mu.Unlock()
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seq...)
}

// authority is a local Microsoft Entra authority over TLS: the OpenID discovery document MSAL
// reads first, and the token endpoint. It checks the client secret, or the signed client
// assertion against the certificate it was given (PS256, x5t#S256 in standard base64, as MSAL
// sends them), and hands out tokens named prefix + hit number.
type authority struct {
	*httptest.Server
	log       *events
	tenant    string
	clientID  string
	secret    string            // expected client_secret, when the app uses one
	cert      *x509.Certificate // expected signer of client_assertion, when the app uses one
	expiresIn int               // lifetime of issued tokens, seconds
	prefix    string

	mu        sync.Mutex
	refuse    int    // when non-zero, refuse token requests with this status
	refuseMsg string // error_description when refusing
	retryAft  string // Retry-After when refusing
	forms     []url.Values
	bad       []string // why requests were refused against the script
}

func newAuthority(t *testing.T, log *events) *authority {
	a := &authority{log: log, tenant: "contoso.onmicrosoft.com", clientID: "11111111-2222-3333-4444-555555555555",
		secret: testSecret, expiresIn: 3599, prefix: "token-"}
	a.Server = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *authority) serve(w http.ResponseWriter, r *http.Request) {
	base := a.URL + "/" + a.tenant
	switch r.URL.Path {
	case "/" + a.tenant + "/v2.0/.well-known/openid-configuration":
		a.log.add("discovery")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"issuer":                 a.URL + "/" + a.tenant + "/v2.0",
		})
	case "/" + a.tenant + "/oauth2/v2.0/token":
		a.token(w, r, base+"/oauth2/v2.0/token")
	default:
		a.log.add("authority 404 " + r.URL.Path)
		http.NotFound(w, r)
	}
}

func (a *authority) token(w http.ResponseWriter, r *http.Request, endpoint string) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.forms = append(a.forms, r.PostForm)
	n := len(a.forms)
	refuse, msg, ra := a.refuse, a.refuseMsg, a.retryAft
	why := a.check(r.PostForm, endpoint)
	if why != "" {
		a.bad = append(a.bad, why)
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if why != "" {
		refuse, msg = http.StatusUnauthorized, "AADSTS7000215: "+why
	}
	if refuse != 0 {
		a.log.add(fmt.Sprintf("token %d", refuse))
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		w.WriteHeader(refuse)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":%q,"error_codes":[7000215]}`, msg)
		return
	}
	a.log.add("token")
	fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d,"ext_expires_in":%d,"access_token":"%s%d"}`,
		a.expiresIn, a.expiresIn, a.prefix, n)
}

// check returns why a token request does not authenticate the app, or "".
func (a *authority) check(f url.Values, endpoint string) string {
	switch {
	case f.Get("grant_type") != "client_credentials":
		return "grant_type " + f.Get("grant_type")
	case f.Get("client_id") != a.clientID:
		return "client_id " + f.Get("client_id")
	case a.cert == nil && f.Get("client_secret") != a.secret:
		return "wrong client secret"
	case a.cert != nil:
		return checkAssertion(f, a.cert, a.clientID, endpoint)
	}
	return ""
}

// checkAssertion verifies a client assertion as Entra does: the header's x5t#S256 is the
// SHA-256 of the certificate in standard base64 (what MSAL sends), the PS256 signature verifies
// with the certificate's key, and the claims name the app and this token endpoint.
func checkAssertion(f url.Values, cert *x509.Certificate, clientID, endpoint string) string {
	if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return "client_assertion_type " + f.Get("client_assertion_type")
	}
	parts := strings.Split(f.Get("client_assertion"), ".")
	if len(parts) != 3 {
		return "client_assertion is not a JWT"
	}
	var head struct {
		Alg string `json:"alg"`
		X5t string `json:"x5t#S256"`
		Typ string `json:"typ"`
	}
	var claims struct {
		Aud, Iss, Sub string
		Exp, Nbf      int64
	}
	if err := decodeSegment(parts[0], &head); err != nil {
		return "header: " + err.Error()
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return "claims: " + err.Error()
	}
	sum := sha256.Sum256(cert.Raw)
	switch {
	case head.Alg != "PS256":
		return "alg " + head.Alg
	case head.X5t != base64.StdEncoding.EncodeToString(sum[:]):
		return "x5t#S256 is not the certificate's SHA-256 in standard base64: " + head.X5t
	case claims.Aud != endpoint || claims.Iss != clientID || claims.Sub != clientID:
		return fmt.Sprintf("claims aud %q iss %q sub %q", claims.Aud, claims.Iss, claims.Sub)
	case time.Unix(claims.Exp, 0).Before(time.Now()):
		return "assertion expired"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "signature encoding"
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPSS(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig, nil); err != nil {
		return "signature does not verify with the certificate: " + err.Error()
	}
	return ""
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (a *authority) setRefuse(status int, msg, retryAfter string) {
	a.mu.Lock()
	a.refuse, a.refuseMsg, a.retryAft = status, msg, retryAfter
	a.mu.Unlock()
}

func (a *authority) hits() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.forms)
}

func (a *authority) form(i int) url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.forms[i]
}

func (a *authority) refusals() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.bad...)
}

// testRoots trusts the certificate every httptest TLS server presents.
func testRoots(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}

// testCert makes a self-signed RSA certificate for the app, as an admin would upload to the app
// registration.
func testCert(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "tdq-agent test app"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// writeCertFile writes cert and key in the given format: "pem", "pfx" (with password) or
// "pfx-nopass".
func writeCertFile(t *testing.T, cert *x509.Certificate, key *rsa.PrivateKey, format, password string) string {
	t.Helper()
	var data []byte
	switch format {
	case "pem":
		data = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
	case "pfx":
		var err error
		if data, err = pkcs12.Modern.Encode(key, cert, nil, password); err != nil {
			t.Fatal(err)
		}
	case "pfx-nopass":
		var err error
		if data, err = pkcs12.Passwordless.Encode(key, cert, nil, ""); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown format %q", format)
	}
	path := filepath.Join(t.TempDir(), "app."+format)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
