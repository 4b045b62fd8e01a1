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
	SpoolDir     string        `yaml:"spool_dir"`     // relative paths are relative to the process cwd; the agent resolves them
	Sink         string        `yaml:"sink"`          // "graph" or "outbox"
	OutboxDir    string        `yaml:"outbox_dir"`    // used when sink is "outbox"
	RetryMin     time.Duration `yaml:"retry_min"`     // backoff floor
	RetryMax     time.Duration `yaml:"retry_max"`     // backoff ceiling (a longer Retry-After still wins)
	FlushTimeout time.Duration `yaml:"flush_timeout"` // how long Flush may try at the end of a file replay
	Graph        GraphConfig   `yaml:"graph"`
}

// GraphConfig says where and as whom records are posted. National clouds are a matter of
// base_url and token_url.
type GraphConfig struct {
	BaseURL          string        `yaml:"base_url"`
	Version          string        `yaml:"version"`   // "v1.0" or "beta"
	TokenURL         string        `yaml:"token_url"` // "{tenant}" is replaced by tenant_id
	TenantID         string        `yaml:"tenant_id"`
	ClientID         string        `yaml:"client_id"`
	ClientSecret     string        `yaml:"client_secret"`      // or one of the two below, so the secret can stay out of the file
	ClientSecretEnv  string        `yaml:"client_secret_env"`  // name of an environment variable holding the secret
	ClientSecretFile string        `yaml:"client_secret_file"` // file holding the secret; surrounding whitespace is ignored
	Scope            string        `yaml:"scope"`
	Timeout          time.Duration `yaml:"timeout"` // per HTTP request (token or Graph)
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
		Graph: GraphConfig{
			BaseURL:  "https://graph.microsoft.com",
			Version:  "v1.0",
			TokenURL: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
			Scope:    "https://graph.microsoft.com/.default",
			Timeout:  30 * time.Second,
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
	return errs
}

func (g *GraphConfig) validate(prefix string) []error {
	const needed = `required when sink is "graph"`
	var errs []error
	if err := checkEndpoint(g.BaseURL); err != nil {
		errs = append(errs, fmt.Errorf("%sbase_url: %w", prefix, err))
	} else if u, _ := url.Parse(g.BaseURL); strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("%sbase_url: %q has a path; want only the scheme and host, e.g. https://graph.microsoft.com (the version goes in version)", prefix, g.BaseURL))
	}
	if g.Version != "v1.0" && g.Version != "beta" {
		errs = append(errs, fmt.Errorf(`%sversion: %q is not "v1.0" or "beta"`, prefix, g.Version))
	}
	if g.TokenURL != "" {
		if err := checkEndpoint(strings.ReplaceAll(g.TokenURL, "{tenant}", "tenant")); err != nil {
			errs = append(errs, fmt.Errorf("%stoken_url: %w", prefix, err))
		}
	}
	if g.TokenURL == "" || strings.Contains(g.TokenURL, "{tenant}") {
		if g.TenantID == "" {
			errs = append(errs, fmt.Errorf("%stenant_id: %s", prefix, needed))
		} else if strings.ContainsAny(g.TenantID, "/?#% \t\r\n") {
			errs = append(errs, fmt.Errorf("%stenant_id: %q is not a tenant GUID or domain", prefix, g.TenantID))
		}
	}
	if g.ClientID == "" {
		errs = append(errs, fmt.Errorf("%sclient_id: %s", prefix, needed))
	}
	switch n := countSet(g.ClientSecret, g.ClientSecretEnv, g.ClientSecretFile); {
	case n == 0:
		errs = append(errs, fmt.Errorf("%sclient_secret: %s (or set client_secret_env or client_secret_file)", prefix, needed))
	case n > 1:
		errs = append(errs, fmt.Errorf("%sclient_secret: set only one of client_secret, client_secret_env, client_secret_file", prefix))
	}
	if g.Scope == "" {
		errs = append(errs, fmt.Errorf("%sscope: %s", prefix, needed))
	}
	if g.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("%stimeout: must be positive, got %s", prefix, g.Timeout))
	}
	return errs
}

// checkEndpoint insists on https except for loopback, because a bearer token or the client
// secret would otherwise cross the network in clear; loopback http serves tests and local fakes.
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
		if _, err := c.Graph.secret(); err != nil {
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

// tokenEndpoint fills the tenant into TokenURL, falling back to the public cloud's template.
func (g *GraphConfig) tokenEndpoint() string {
	t := g.TokenURL
	if t == "" {
		t = DefaultConfig().Graph.TokenURL
	}
	return strings.ReplaceAll(t, "{tenant}", url.PathEscape(g.TenantID))
}

// postURL is the logTeleconferenceDeviceQuality action under the configured host and version.
func (g *GraphConfig) postURL() string {
	return strings.TrimRight(g.BaseURL, "/") + "/" + g.Version + "/communications/calls/logTeleconferenceDeviceQuality"
}

// secret reads the client secret from wherever the config says it lives. It is called for every
// token request, so a rotated secret file or environment is picked up without a restart.
func (g *GraphConfig) secret() (string, error) {
	switch {
	case g.ClientSecret != "":
		return g.ClientSecret, nil
	case g.ClientSecretEnv != "":
		s := strings.TrimSpace(os.Getenv(g.ClientSecretEnv))
		if s == "" {
			return "", fmt.Errorf("uploader.graph.client_secret_env: environment variable %q is empty or unset", g.ClientSecretEnv)
		}
		return s, nil
	case g.ClientSecretFile != "":
		b, err := os.ReadFile(g.ClientSecretFile)
		if err != nil {
			// The *PathError names the file and the reason, never its contents.
			return "", fmt.Errorf("uploader.graph.client_secret_file: %w", err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("uploader.graph.client_secret_file: %q is empty", g.ClientSecretFile)
		}
		return s, nil
	default:
		return "", errors.New(`uploader.graph.client_secret: required when sink is "graph"`)
	}
}

// Redacted returns a copy that is safe to print or log: the client secret, if set in the config
// itself, is replaced by a marker. Names of the env variable and the file are not secret.
func (c Config) Redacted() Config {
	c.Graph = c.Graph.Redacted()
	return c
}

// Redacted returns a copy with the client secret masked.
func (g GraphConfig) Redacted() GraphConfig {
	if g.ClientSecret != "" {
		g.ClientSecret = redacted
	}
	return g
}

// String prints the config with the secret masked, so %v and zap.Any (which prefers Stringer
// over reflection) cannot leak it.
func (c Config) String() string {
	r := c.Redacted()
	return fmt.Sprintf("{spool_dir:%q sink:%q outbox_dir:%q retry_min:%s retry_max:%s flush_timeout:%s graph:%s}",
		r.SpoolDir, r.Sink, r.OutboxDir, r.RetryMin, r.RetryMax, r.FlushTimeout, r.Graph)
}

// GoString keeps %#v from printing the raw struct.
func (c Config) GoString() string { return c.String() }

// String prints the Graph settings with the secret masked.
func (g GraphConfig) String() string {
	r := g.Redacted()
	return fmt.Sprintf("{base_url:%q version:%q token_url:%q tenant_id:%q client_id:%q client_secret:%q client_secret_env:%q client_secret_file:%q scope:%q timeout:%s}",
		r.BaseURL, r.Version, r.TokenURL, r.TenantID, r.ClientID, r.ClientSecret, r.ClientSecretEnv, r.ClientSecretFile, r.Scope, r.Timeout)
}

// GoString keeps %#v from printing the raw struct.
func (g GraphConfig) GoString() string { return g.String() }
