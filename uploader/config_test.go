package uploader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func validGraphConfig() Config {
	cfg := DefaultConfig()
	cfg.Graph.TenantID = "contoso.onmicrosoft.com"
	cfg.Graph.ClientID = "11111111-2222-3333-4444-555555555555"
	cfg.Graph.ClientSecret = testSecret
	return cfg
}

func TestDefaultConfig(t *testing.T) {
	cfg := validGraphConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults plus identity do not validate: %v", err)
	}
	d := DefaultConfig()
	if d.SpoolDir != "spool" || d.Sink != "graph" || d.RetryMin != 5*time.Second || d.RetryMax != 15*time.Minute ||
		d.FlushTimeout != 30*time.Second || d.Graph.Version != "v1.0" || d.Graph.Timeout != 30*time.Second ||
		d.Graph.Scope != "https://graph.microsoft.com/.default" || d.Graph.BaseURL != "https://graph.microsoft.com" {
		t.Errorf("DefaultConfig = %v", d)
	}
	if got, want := cfg.Graph.tokenEndpoint(), "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"; got != want {
		t.Errorf("token endpoint = %q, want %q", got, want)
	}
	if got, want := cfg.Graph.postURL(), "https://graph.microsoft.com/v1.0/communications/calls/logTeleconferenceDeviceQuality"; got != want {
		t.Errorf("post URL = %q, want %q", got, want)
	}
}

// Out of the box the identity is missing; every missing key is reported at once.
func TestValidateJoinsAllProblems(t *testing.T) {
	cfg := DefaultConfig()
	err := cfg.Validate()
	if err == nil {
		t.Fatal("DefaultConfig validated without tenant, client id and secret")
	}
	want := []string{
		`uploader.graph.tenant_id: required when sink is "graph"`,
		`uploader.graph.client_id: required when sink is "graph"`,
		`uploader.graph.client_secret: required when sink is "graph"`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for _, w := range want {
		mustContain(t, err.Error(), w)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"unknown sink", func(c *Config) { c.Sink = "s3" }, `uploader.sink: "s3" is not`},
		{"outbox without dir", func(c *Config) { c.Sink, c.OutboxDir = SinkOutbox, "" }, "uploader.outbox_dir: required"},
		{"no spool dir", func(c *Config) { c.SpoolDir = "" }, "uploader.spool_dir: required"},
		{"retry_min zero", func(c *Config) { c.RetryMin = 0 }, "uploader.retry_min: must be positive"},
		{"retry_max below min", func(c *Config) { c.RetryMax = time.Second }, "uploader.retry_max: must be at least retry_min"},
		{"flush_timeout zero", func(c *Config) { c.FlushTimeout = 0 }, "uploader.flush_timeout: must be positive"},
		{"bad version", func(c *Config) { c.Graph.Version = "v2" }, `uploader.graph.version: "v2" is not`},
		{"plain http to a remote host", func(c *Config) { c.Graph.BaseURL = "http://graph.microsoft.com" }, "uploader.graph.base_url: "},
		{"relative base url", func(c *Config) { c.Graph.BaseURL = "graph.microsoft.com" }, "uploader.graph.base_url: "},
		{"token url scheme", func(c *Config) { c.Graph.TokenURL = "ftp://login/{tenant}" }, "uploader.graph.token_url: "},
		{"tenant with a slash", func(c *Config) { c.Graph.TenantID = "a/b" }, "uploader.graph.tenant_id: "},
		{"two secret sources", func(c *Config) { c.Graph.ClientSecretEnv = "X" }, "uploader.graph.client_secret: set only one"},
		{"no scope", func(c *Config) { c.Graph.Scope = "" }, "uploader.graph.scope: required"},
		{"timeout zero", func(c *Config) { c.Graph.Timeout = 0 }, "uploader.graph.timeout: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validGraphConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatalf("Validate accepted it")
			}
			mustContain(t, err.Error(), tt.want)
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"outbox ignores graph settings", func(c *Config) { c.Sink, c.Graph = SinkOutbox, GraphConfig{} }},
		{"loopback http for a local fake", func(c *Config) {
			c.Graph.BaseURL, c.Graph.TokenURL = "http://127.0.0.1:8080", "http://localhost:8081/{tenant}/token"
		}},
		{"beta", func(c *Config) { c.Graph.Version = "beta" }},
		{"token url without tenant needs none", func(c *Config) {
			c.Graph.TokenURL, c.Graph.TenantID = "https://login.example.us/t/oauth2/v2.0/token", ""
		}},
		{"secret from env", func(c *Config) { c.Graph.ClientSecret, c.Graph.ClientSecretEnv = "", "TDQ_SECRET" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validGraphConfig()
			tt.mutate(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestSecretSources(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TDQ_TEST_SECRET", testSecret)
	t.Setenv("TDQ_TEST_EMPTY", "")
	tests := []struct {
		name    string
		g       GraphConfig
		wantErr string
	}{
		{"inline", GraphConfig{ClientSecret: testSecret}, ""},
		{"env", GraphConfig{ClientSecretEnv: "TDQ_TEST_SECRET"}, ""},
		{"file, newline trimmed", GraphConfig{ClientSecretFile: file}, ""},
		{"empty env", GraphConfig{ClientSecretEnv: "TDQ_TEST_EMPTY"}, "uploader.graph.client_secret_env"},
		{"missing file", GraphConfig{ClientSecretFile: file + ".nope"}, "uploader.graph.client_secret_file"},
		{"none", GraphConfig{}, "uploader.graph.client_secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.g.secret()
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("secret() = %q, want an error", got)
				}
				mustContain(t, err.Error(), tt.wantErr)
				return
			}
			if err != nil || got != testSecret {
				t.Errorf("secret() = %q, %v; want the secret", got, err)
			}
		})
	}
}
