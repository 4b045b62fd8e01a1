package uploader

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Sink names accepted in Config.Sink.
const (
	SinkGraph  = "graph"
	SinkOutbox = "outbox"
)

const redacted = "[redacted]"

// Config is the uploader section of the agent's config file.
type Config struct {
	SpoolDir     string        `yaml:"spool_dir"`      // relative paths are relative to the process cwd; the agent resolves them
	Sink         string        `yaml:"sink"`           // "graph" or "outbox"
	OutboxDir    string        `yaml:"outbox_dir"`     // used when sink is "outbox"
	RetryMin     time.Duration `yaml:"retry_min"`      // backoff floor
	RetryMax     time.Duration `yaml:"retry_max"`      // backoff ceiling (a longer Retry-After still wins)
	FlushTimeout time.Duration `yaml:"flush_timeout"`  // how long Flush may try at the end of a file replay
	MaxAge       time.Duration `yaml:"max_age"`        // a record that failed and is older than this goes to deadletter/
	MaxRecords   int           `yaml:"max_records"`    // pending records kept; past it the oldest is dropped
	MaxBytes     ByteSize      `yaml:"max_bytes"`      // bytes of pending records kept; past it the oldest is dropped
	MinFreeBytes ByteSize      `yaml:"min_free_bytes"` // free disk the spool leaves; below it records wait in memory
	Graph        GraphConfig   `yaml:"graph"`
}

// Cloud names accepted in GraphConfig.Cloud.
const (
	CloudGlobal = "global"
	CloudUSGov  = "usgov"
	CloudDoD    = "dod"
	CloudChina  = "china"
)

// clouds maps each cloud to its Graph host and its Microsoft Entra authority host.
var clouds = map[string]struct{ graph, login string }{
	CloudGlobal: {"https://graph.microsoft.com", "https://login.microsoftonline.com"},
	CloudUSGov:  {"https://graph.microsoft.us", "https://login.microsoftonline.us"},     // US Gov L4 (GCC High)
	CloudDoD:    {"https://dod-graph.microsoft.us", "https://login.microsoftonline.us"}, // US Gov L5 (DoD)
}

// GraphConfig says where and as whom records are posted: the cloud picks the Graph and login
// hosts, base_url and authority_url override them (a proxy, a test double).
type GraphConfig struct {
	Cloud        string `yaml:"cloud"`         // global, usgov or dod
	BaseURL      string `yaml:"base_url"`      // empty: the cloud's Graph host
	Version      string `yaml:"version"`       // "v1.0" or "beta"
	AuthorityURL string `yaml:"authority_url"` // empty: the cloud's login host; the tenant is appended
	TenantID     string `yaml:"tenant_id"`
	ClientID     string `yaml:"client_id"`

	// The app's credential: a client secret (from one of three places) or a certificate.
	ClientSecret            string `yaml:"client_secret"`
	ClientSecretEnv         string `yaml:"client_secret_env"`  // name of an environment variable holding the secret
	ClientSecretFile        string `yaml:"client_secret_file"` // file holding the secret; surrounding whitespace is ignored
	CertificateFile         string `yaml:"certificate_file"`   // PEM (certificate and RSA key) or PKCS#12 (.pfx/.p12)
	CertificatePassword     string `yaml:"certificate_password"`
	CertificatePasswordEnv  string `yaml:"certificate_password_env"`
	CertificatePasswordFile string `yaml:"certificate_password_file"`

	Scope   string        `yaml:"scope"`   // empty: the cloud's Graph host + "/.default"
	Timeout time.Duration `yaml:"timeout"` // per HTTP request (token or Graph)
}

// DefaultConfig returns the values used for keys the config file leaves out.
func DefaultConfig() Config {
	return Config{
		SpoolDir:     "spool",
		Sink:         SinkGraph,
		OutboxDir:    "outbox",
		RetryMin:     5 * time.Second,
		RetryMax:     15 * time.Minute,
		FlushTimeout: 30 * time.Second,
		MaxAge:       7 * 24 * time.Hour,
		MaxRecords:   10000,
		MaxBytes:     256 << 20,
		MinFreeBytes: 64 << 20,
		Graph: GraphConfig{
			Cloud:   CloudGlobal,
			Version: "v1.0",
			Timeout: 30 * time.Second,
		},
	}
}

// Validate reports every problem at once, each prefixed with its yaml key path, so an operator
// fixes the file in one pass. It never quotes a secret.
func (c *Config) Validate() error {
	errs := c.validateLocal()
	switch c.Sink {
	case SinkGraph:
		errs = append(errs, c.Graph.validate("uploader.graph.")...)
	case SinkOutbox:
		if c.OutboxDir == "" {
			errs = append(errs, errors.New(`uploader.outbox_dir: required when sink is "outbox"`))
		}
	default:
		errs = append(errs, fmt.Errorf(`uploader.sink: %q is not "graph" or "outbox"`, c.Sink))
	}
	return errors.Join(errs...)
}

// validateLocal checks what the spool and the retry loop need, whatever the sink.
func (c *Config) validateLocal() []error {
	var errs []error
	if c.SpoolDir == "" {
		errs = append(errs, errors.New("uploader.spool_dir: required"))
	}
	if c.RetryMin <= 0 {
		errs = append(errs, fmt.Errorf("uploader.retry_min: must be positive, got %s", c.RetryMin))
	}
	if c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("uploader.retry_max: must be at least retry_min (%s), got %s", c.RetryMin, c.RetryMax))
	}
	if c.FlushTimeout <= 0 {
		errs = append(errs, fmt.Errorf("uploader.flush_timeout: must be positive, got %s", c.FlushTimeout))
	}
	if c.MaxAge < time.Hour {
		errs = append(errs, fmt.Errorf(`uploader.max_age: %s is too short, want at least 1h such as "168h"`, c.MaxAge))
	}
	if c.MaxRecords < 1 {
		errs = append(errs, fmt.Errorf("uploader.max_records: must be at least 1, got %d", c.MaxRecords))
	}
	if c.MaxBytes < 64<<10 {
		errs = append(errs, fmt.Errorf(`uploader.max_bytes: %s is too small, want at least 64KiB such as "256MiB"`, c.MaxBytes))
	}
	if c.MinFreeBytes < 0 {
		errs = append(errs, fmt.Errorf("uploader.min_free_bytes: must not be negative, got %d", c.MinFreeBytes))
	}
	return errs
}

func (g *GraphConfig) validate(prefix string) []error {
	const needed = `required when sink is "graph"`
	var errs []error
	switch _, known := clouds[g.Cloud]; {
	case g.Cloud == CloudChina:
		errs = append(errs, fmt.Errorf(`%scloud: "china" is not supported: Microsoft Graph operated by 21Vianet has no logTeleconferenceDeviceQuality action, so records cannot be uploaded there (use sink: outbox to keep them)`, prefix))
	case !known:
		errs = append(errs, fmt.Errorf(`%scloud: %q is not a cloud, want "global", "usgov" (graph.microsoft.us) or "dod" (dod-graph.microsoft.us)`, prefix, g.Cloud))
	}
	if g.BaseURL != "" {
		if err := checkEndpoint(g.BaseURL); err != nil {
			errs = append(errs, fmt.Errorf("%sbase_url: %w", prefix, err))
		} else if hasPath(g.BaseURL) {
			errs = append(errs, fmt.Errorf("%sbase_url: %q has a path; want only the scheme and host, e.g. https://graph.microsoft.com (the version goes in version)", prefix, g.BaseURL))
		}
	}
	if g.Version != "v1.0" && g.Version != "beta" {
		errs = append(errs, fmt.Errorf(`%sversion: %q is not "v1.0" or "beta"`, prefix, g.Version))
	}
	if g.AuthorityURL != "" {
		// MSAL refuses anything but https for an authority, loopback included.
		if u, err := url.Parse(g.AuthorityURL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("%sauthority_url: %q is not an https URL such as https://login.microsoftonline.com", prefix, g.AuthorityURL))
		} else if hasPath(g.AuthorityURL) {
			errs = append(errs, fmt.Errorf("%sauthority_url: %q has a path; want only the scheme and host (the tenant goes in tenant_id)", prefix, g.AuthorityURL))
		}
	}
	if g.TenantID == "" {
		errs = append(errs, fmt.Errorf("%stenant_id: %s", prefix, needed))
	} else if strings.ContainsAny(g.TenantID, "/?#% \t\r\n") {
		errs = append(errs, fmt.Errorf("%stenant_id: %q is not a tenant GUID or domain", prefix, g.TenantID))
	}
	if g.ClientID == "" {
		errs = append(errs, fmt.Errorf("%sclient_id: %s", prefix, needed))
	}
	secret, password := g.secretSource(), g.passwordSource()
	switch n := secret.count(); {
	case n > 1:
		errs = append(errs, fmt.Errorf("%sclient_secret: set only one of client_secret, client_secret_env, client_secret_file", prefix))
	case n == 1 && g.CertificateFile != "":
		errs = append(errs, fmt.Errorf("%scertificate_file: set either a client secret or a certificate, not both", prefix))
	case n == 0 && g.CertificateFile == "":
		errs = append(errs, fmt.Errorf("%sclient_secret: %s (or set client_secret_env, client_secret_file or certificate_file)", prefix, needed))
	}
	if password.count() > 1 {
		errs = append(errs, fmt.Errorf("%scertificate_password: set only one of certificate_password, certificate_password_env, certificate_password_file", prefix))
	}
	if password.count() > 0 && g.CertificateFile == "" {
		errs = append(errs, fmt.Errorf("%scertificate_password: set without certificate_file", prefix))
	}
	if g.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("%stimeout: must be positive, got %s", prefix, g.Timeout))
	}
	return errs
}

func hasPath(raw string) bool {
	u, _ := url.Parse(raw)
	return strings.Trim(u.Path, "/") != "" || u.RawQuery != ""
}

// checkEndpoint insists on https except for loopback, because a bearer token would otherwise
// cross the network in clear; loopback http serves tests and local fakes.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: http is allowed only for loopback hosts, use https", raw)
	default:
		return fmt.Errorf("%q: scheme must be https", raw)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}

// CheckRuntime checks what Validate cannot see in the file alone, without changing anything:
// that the client secret can be read now, and that the spool and outbox folders are folders or
// can be created under one. `config check` runs it, and so does the agent before it starts.
func (c *Config) CheckRuntime() error {
	var errs []error
	if err := checkDir("uploader.spool_dir", c.SpoolDir); err != nil {
		errs = append(errs, err)
	}
	switch c.Sink {
	case SinkOutbox:
		if err := checkDir("uploader.outbox_dir", c.OutboxDir); err != nil {
			errs = append(errs, err)
		}
	case SinkGraph:
		if _, err := c.Graph.credential(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkDir accepts an existing directory, or a path whose nearest existing ancestor is one.
func checkDir(key, dir string) error {
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		switch {
		case err == nil && info.IsDir():
			return nil
		case err == nil:
			return fmt.Errorf("%s: %q cannot be created: %q is not a directory", key, dir, p)
		case !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			// ENOTDIR: a path component is a file; walking up reports which.
			return fmt.Errorf("%s: %w", key, err)
		}
		if filepath.Dir(p) == p {
			return fmt.Errorf("%s: no existing parent folder for %q", key, dir)
		}
	}
}

// ResolvePaths rewrites the relative paths of the section with abs, e.g. against the folder of
// the config file; the agent calls it after loading.
func (c *Config) ResolvePaths(abs func(string) string) {
	for _, p := range []*string{&c.SpoolDir, &c.OutboxDir, &c.Graph.ClientSecretFile,
		&c.Graph.CertificateFile, &c.Graph.CertificatePasswordFile} {
		if *p != "" {
			*p = abs(*p)
		}
	}
}

// graphHost is the Graph host records go to: base_url, or the cloud's.
func (g *GraphConfig) graphHost() string {
	if g.BaseURL != "" {
		return strings.TrimRight(g.BaseURL, "/")
	}
	return clouds[g.Cloud].graph
}

// authority is the Entra authority MSAL talks to: authority_url or the cloud's login host, with
// the tenant.
func (g *GraphConfig) authority() string {
	host := g.AuthorityURL
	if host == "" {
		host = clouds[g.Cloud].login
	}
	return strings.TrimRight(host, "/") + "/" + url.PathEscape(g.TenantID)
}

// scopes asks for the app's Graph permissions in the cloud's Graph, even when base_url points
// elsewhere (a proxy): the token's audience is Graph itself.
func (g *GraphConfig) scopes() []string {
	if g.Scope != "" {
		return []string{g.Scope}
	}
	return []string{clouds[g.Cloud].graph + "/.default"}
}

// postURL is the logTeleconferenceDeviceQuality action under the Graph host and version.
func (g *GraphConfig) postURL() string {
	return g.graphHost() + "/" + g.Version + "/communications/calls/logTeleconferenceDeviceQuality"
}

func (g *GraphConfig) secretSource() secretSource {
	return secretSource{key: "uploader.graph.client_secret", value: g.ClientSecret, env: g.ClientSecretEnv, fp: g.ClientSecretFile}
}

func (g *GraphConfig) passwordSource() secretSource {
	return secretSource{key: "uploader.graph.certificate_password", value: g.CertificatePassword,
		env: g.CertificatePasswordEnv, fp: g.CertificatePasswordFile}
}

// Redacted returns a copy that is safe to print or log: the client secret and the certificate
// password, if set in the config itself, are replaced by a marker. Names of the env variables and
// the files are not secret.
func (c Config) Redacted() Config {
	c.Graph = c.Graph.Redacted()
	return c
}

// Redacted returns a copy with the client secret and the certificate password masked.
func (g GraphConfig) Redacted() GraphConfig {
	if g.ClientSecret != "" {
		g.ClientSecret = redacted
	}
	if g.CertificatePassword != "" {
		g.CertificatePassword = redacted
	}
	return g
}

// String prints the config with the secrets masked, so %v and zap.Any (which prefers Stringer
// over reflection) cannot leak them.
func (c Config) String() string {
	r := c.Redacted()
	return fmt.Sprintf("{spool_dir:%q sink:%q outbox_dir:%q retry_min:%s retry_max:%s flush_timeout:%s max_age:%s max_records:%d max_bytes:%s min_free_bytes:%s graph:%s}",
		r.SpoolDir, r.Sink, r.OutboxDir, r.RetryMin, r.RetryMax, r.FlushTimeout, r.MaxAge, r.MaxRecords, r.MaxBytes, r.MinFreeBytes, r.Graph)
}

// GoString keeps %#v from printing the raw struct.
func (c Config) GoString() string { return c.String() }

// String prints the Graph settings with the secrets masked.
func (g GraphConfig) String() string {
	r := g.Redacted()
	return fmt.Sprintf("{cloud:%q base_url:%q version:%q authority_url:%q tenant_id:%q client_id:%q client_secret:%q client_secret_env:%q client_secret_file:%q certificate_file:%q certificate_password:%q certificate_password_env:%q certificate_password_file:%q scope:%q timeout:%s}",
		r.Cloud, r.BaseURL, r.Version, r.AuthorityURL, r.TenantID, r.ClientID, r.ClientSecret, r.ClientSecretEnv, r.ClientSecretFile,
		r.CertificateFile, r.CertificatePassword, r.CertificatePasswordEnv, r.CertificatePasswordFile, r.Scope, r.Timeout)
}

// GoString keeps %#v from printing the raw struct.
func (g GraphConfig) GoString() string { return g.String() }
