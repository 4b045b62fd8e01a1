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
		d.FlushTimeout != 30*time.Second || d.MaxAge != 168*time.Hour || d.MaxRecords != 10000 ||
		d.MaxBytes != 256<<20 || d.MinFreeBytes != 64<<20 ||
		d.Graph.Cloud != "global" || d.Graph.Version != "v1.0" || d.Graph.Timeout != 30*time.Second {
		t.Errorf("DefaultConfig = %v", d)
	}
	if got, want := cfg.Graph.authority(), "https://login.microsoftonline.com/contoso.onmicrosoft.com"; got != want {
		t.Errorf("authority = %q, want %q", got, want)
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
		{"authority over http", func(c *Config) { c.Graph.AuthorityURL = "http://127.0.0.1:8443" }, "uploader.graph.authority_url: "},
		{"authority with a path", func(c *Config) { c.Graph.AuthorityURL = "https://login.example/t1" }, "uploader.graph.authority_url: "},
		{"unknown cloud", func(c *Config) { c.Graph.Cloud = "mars" }, `uploader.graph.cloud: "mars" is not a cloud`},
		{"china", func(c *Config) { c.Graph.Cloud = "china" }, `uploader.graph.cloud: "china" is not supported`},
		{"secret and certificate", func(c *Config) { c.Graph.CertificateFile = "app.pfx" }, "uploader.graph.certificate_file: set either"},
		{"password without certificate", func(c *Config) { c.Graph.CertificatePassword = "x" }, "uploader.graph.certificate_password: set without"},
		{"two password sources", func(c *Config) {
			c.Graph.ClientSecret, c.Graph.CertificateFile = "", "app.pfx"
			c.Graph.CertificatePassword, c.Graph.CertificatePasswordEnv = "x", "Y"
		}, "uploader.graph.certificate_password: set only one"},
		{"max_age too short", func(c *Config) { c.MaxAge = time.Minute }, "uploader.max_age: 1m0s is too short"},
		{"max_records zero", func(c *Config) { c.MaxRecords = 0 }, "uploader.max_records: must be at least 1"},
		{"max_bytes tiny", func(c *Config) { c.MaxBytes = 1000 }, "uploader.max_bytes: 1000 is too small"},
		{"min_free_bytes negative", func(c *Config) { c.MinFreeBytes = -1 }, "uploader.min_free_bytes: must not be negative"},
		{"tenant with a slash", func(c *Config) { c.Graph.TenantID = "a/b" }, "uploader.graph.tenant_id: "},
		{"two secret sources", func(c *Config) { c.Graph.ClientSecretEnv = "X" }, "uploader.graph.client_secret: set only one"},
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
		{"loopback http Graph and a local authority", func(c *Config) {
			c.Graph.BaseURL, c.Graph.AuthorityURL = "http://127.0.0.1:8080", "https://127.0.0.1:8443"
		}},
		{"beta", func(c *Config) { c.Graph.Version = "beta" }},
		{"us gov", func(c *Config) { c.Graph.Cloud = "usgov" }},
		{"dod", func(c *Config) { c.Graph.Cloud = "dod" }},
		{"certificate without password", func(c *Config) { c.Graph.ClientSecret, c.Graph.CertificateFile = "", "app.pfx" }},
		{"certificate with password file", func(c *Config) {
			c.Graph.ClientSecret, c.Graph.CertificateFile, c.Graph.CertificatePasswordFile = "", "app.pfx", "pw"
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
		{"certificate password env", GraphConfig{CertificatePasswordEnv: "TDQ_TEST_SECRET"}, ""},
		{"certificate password empty env", GraphConfig{CertificatePasswordEnv: "TDQ_TEST_EMPTY"}, "uploader.graph.certificate_password_env"},
		{"env", GraphConfig{ClientSecretEnv: "TDQ_TEST_SECRET"}, ""},
		{"file, newline trimmed", GraphConfig{ClientSecretFile: file}, ""},
		{"empty env", GraphConfig{ClientSecretEnv: "TDQ_TEST_EMPTY"}, "uploader.graph.client_secret_env"},
		{"missing file", GraphConfig{ClientSecretFile: file + ".nope"}, "uploader.graph.client_secret_file"},
		{"none", GraphConfig{}, "uploader.graph.client_secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.g.secretSource()
			if tt.g.CertificatePasswordEnv != "" {
				src = tt.g.passwordSource()
			}
			got, err := src.read()
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

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"1048576", 1 << 20, false},
		{"256MiB", 256 << 20, false},
		{"64 KiB", 64 << 10, false},
		{"1GB", 1e9, false},
		{"100MB", 1e8, false},
		{"12B", 12, false},
		{"-1", 0, true},
		{"lots", 0, true},
		{"1.5GiB", 0, true},
		{"99999999999TiB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	for _, b := range []ByteSize{256 << 20, 64 << 10, 1e9, 7} {
		if back, err := ParseByteSize(b.String()); err != nil || back != b {
			t.Errorf("%d prints as %q, which reads back as %d, %v", b, b.String(), back, err)
		}
	}
}

func TestResolvePaths(t *testing.T) {
	cfg := validGraphConfig()
	cfg.SpoolDir, cfg.Graph.CertificateFile, cfg.Graph.CertificatePasswordFile = "spool", "app.pfx", "/abs/pw"
	cfg.ResolvePaths(func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return "/etc/tdq/" + p
	})
	if cfg.SpoolDir != "/etc/tdq/spool" || cfg.Graph.CertificateFile != "/etc/tdq/app.pfx" || cfg.Graph.CertificatePasswordFile != "/abs/pw" || cfg.Graph.ClientSecretFile != "" {
		t.Errorf("ResolvePaths = %v", cfg)
	}
}
