package uploader

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

const (
	testTokenPrefix  = "tok-Qz8-never-log-"
	testCertPassword = "Pfx-Pa55-never-log-51ab"
)

// Runs failing and succeeding paths with a known client secret, and again with a certificate and
// its known password, then looks for the secret, the password and the token in every log line,
// every error, and every file the spool wrote.
func TestSecretsStayOutOfLogsErrorsAndFiles(t *testing.T) {
	cert, key := testCert(t)
	for _, useCert := range []bool{false, true} {
		name := "client secret"
		if useCert {
			name = "certificate password"
		}
		t.Run(name, func(t *testing.T) { checkSecretsStayOut(t, useCert, cert, key) })
	}
}

func checkSecretsStayOut(t *testing.T, useCert bool, cert *x509.Certificate, key *rsa.PrivateKey) {
	log, buf := jsonLogger()
	clk := newFakeClock()
	var errs []string
	check := func(where, s string) {
		t.Helper()
		for _, secret := range []string{testSecret, testCertPassword, testTokenPrefix} {
			if strings.Contains(s, secret) {
				t.Errorf("%s contains %q:\n%s", where, secret, s)
			}
		}
	}

	ev := &events{}
	auth := newAuthority(t, ev)
	auth.prefix = testTokenPrefix
	// A token endpoint that refuses, and echoes the credential's secret in its description.
	echo := testSecret
	if useCert {
		echo = testCertPassword
	}
	auth.setRefuse(http.StatusUnauthorized, "AADSTS7000215: Invalid client secret provided: "+echo, "")
	graph := newGraphServer(t, ev,
		answer(http.StatusUnauthorized, graphErrorBody("InvalidAuthenticationToken", "Access token has expired", "r401")),
		answer(http.StatusBadRequest, graphErrorBody("BadRequest", "Invalid quality record", "r400")),
		answer(http.StatusServiceUnavailable, graphErrorBody("serviceNotAvailable", "try later", "r503")),
		answer(http.StatusOK, "", "request-id", "r200"),
	)
	gcfg := testGraphConfig(auth, graph)
	if useCert {
		auth.cert = cert
		gcfg.ClientSecret = ""
		gcfg.CertificateFile = writeCertFile(t, cert, key, "pfx", testCertPassword)
		gcfg.CertificatePassword = testCertPassword
	}
	g := newTestGraphSink(t, gcfg, clk, log, graph.Server)
	dir := t.TempDir()
	u := newTestUploader(t, dir, g, clk, log)

	if err := g.Send(context.Background(), []byte(`{"quality":0}`)); err == nil {
		t.Fatal("Send with a refused token succeeded")
	} else {
		errs = append(errs, err.Error())
	}
	mustEnqueue(t, u, `{"quality":1}`)
	u.sendDue(context.Background()) // token refused: retry
	auth.setRefuse(0, "", "")

	// 401 → refresh → 400 (dead letter), then 503 (retry), then 200, then the retry: 200.
	mustEnqueue(t, u, `{"quality":2}`)
	mustEnqueue(t, u, `{"quality":3}`)
	clk.Advance(time.Hour)
	if err := u.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := u.Stats()
	if st.DeadLettered != 1 || st.Retried != 2 || st.Uploaded != 2 { // Flush retries the 503 within flush_timeout
		t.Fatalf("paths not all taken: %+v\n%s", st, buf)
	}
	if bad := auth.refusals(); len(bad) != 0 {
		t.Fatalf("the authority refused the credential: %v", bad)
	}
	for _, r := range graph.requests() {
		if !strings.HasPrefix(r.header.Get("Authorization"), "Bearer "+testTokenPrefix) {
			t.Fatalf("the token under test was not used: %q", r.header.Get("Authorization"))
		}
	}

	// A wrong password: the error must name the file, not the password tried.
	bad := gcfg
	bad.CertificateFile = writeCertFile(t, cert, key, "pfx", testCertPassword+"x")
	bad.ClientSecret, bad.CertificatePassword = "", testCertPassword
	if _, err := NewGraphSink(bad, testUserAgent, log); err != nil {
		errs = append(errs, err.Error())
	} else {
		t.Error("a certificate with another password was read")
	}

	cfg := validGraphConfig()
	cfg.Graph = gcfg
	cfg.Graph.ClientSecretEnv = "ALSO_SET" // invalid: two sources, or a secret with a certificate
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err.Error())
	}
	cfg.Graph.ClientSecret, cfg.Graph.CertificatePassword = testSecret, testCertPassword
	log.Info("config", zap.Any("uploader", cfg), zap.Any("graph", cfg.Graph), zap.Stringer("s", cfg))

	for _, e := range errs {
		check("error", e)
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		check("log line", line)
	}
	if !strings.Contains(buf.String(), "record uploaded") || !strings.Contains(buf.String(), "moved to deadletter") {
		t.Fatalf("log misses outcome lines:\n%s", buf)
	}
	for _, s := range []string{
		fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg),
		fmt.Sprintf("%+v", cfg.Graph), fmt.Sprintf("%#v", cfg.Graph), fmt.Sprint(cfg.Redacted().Graph.ClientSecret),
		fmt.Sprint(cfg.Redacted().Graph.CertificatePassword),
	} {
		check("printed config", s)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		check(path, string(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The secret source must not be replaced by Redacted, only the inline value.
func TestRedactedKeepsSecretSources(t *testing.T) {
	cfg := validGraphConfig()
	r := cfg.Redacted()
	if r.Graph.ClientSecret != redacted || cfg.Graph.ClientSecret != testSecret {
		t.Errorf("Redacted changed the original or did not mask: %q / %q", r.Graph.ClientSecret, cfg.Graph.ClientSecret)
	}
	cfg.Graph.ClientSecret, cfg.Graph.ClientSecretFile = "", "/etc/tdq/secret"
	if r := cfg.Redacted(); r.Graph.ClientSecret != "" || r.Graph.ClientSecretFile != "/etc/tdq/secret" {
		t.Errorf("Redacted = %v", r)
	}
}
