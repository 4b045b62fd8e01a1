package agent

import (
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestLoadConfigErrors: every problem is reported before anything starts, each with the file,
// the line of the offending key and the form that was expected.
func TestLoadConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // each must appear in the error
	}{
		{"unknown key", "call:\n  idle_timout: 30s\n", []string{`F:2: unknown key "idle_timout" in call`}},
		{"unknown top-level key", "calls:\n  idle_timeout: 30s\n", []string{`F:1: unknown key "calls" at the top level`}},
		{"wrong type", "call:\n  idle_timeout: soon\n", []string{`F:2: call.idle_timeout: "soon" is not valid here, want a duration such as "30s"`}},
		{"bare number for a duration", "metrics:\n  window: 5\n", []string{`F:2: metrics.window: "5" is not valid here, want a duration`}},
		{"payload type out of range", "metrics:\n  clock_rates:\n    300: 48000\n", []string{`F:3: metrics.clock_rates.300: "300" is not valid here, want a whole number from 0 to 255`}},
		{"scalar for a list", "capture:\n  files: one.pcap\n", []string{`F:2: capture.files: "one.pcap" is not valid here, want a list`}},
		{"out of range, with its line", "device:\n  name: x\ncall:\n  idle_timeout: 10ms\n", []string{"F:4: call.idle_timeout: 10ms is out of range, want a duration from 1s to 24h"}},
		{"several problems at once", "log:\n  level: loud\n  format: xml\nmetrics:\n  window: 1ms\n", []string{
			"F:2: log.level: \"loud\" is not a level",
			"F:3: log.format: \"xml\" is not a format",
			"F:5: metrics.window: 1ms is out of range"}},
		{"bad list item points at the item", "capture:\n  local:\n    - 10.0.0.1\n    - not-an-ip\n", []string{"F:4: capture.local[1]: \"not-an-ip\" is not an IP address"}},
		{"static clock rate refused", "metrics:\n  clock_rates:\n    8: 16000\n", []string{"F:3: metrics.clock_rates: payload type 8 is not dynamic"}},
		{"uploader needs credentials for graph", "uploader:\n  sink: graph\n", []string{"uploader.graph.client_id"}},
		{"not yaml", "call: [\n", []string{"F:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("config accepted")
			}
			msg := strings.ReplaceAll(err.Error(), path, "F")
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

// TestShippedConfigs: the annotated template and the demo config load as they are.
func TestShippedConfigs(t *testing.T) {
	for _, name := range []string{"agent.yaml", "demo.yaml"} {
		t.Run(name, func(t *testing.T) {
			cfg, err := LoadConfig(filepath.Join("..", "configs", name))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range cfg.Capture.Files {
				if _, err := os.Stat(f); err != nil {
					t.Errorf("capture file of %s: %v", name, err)
				}
			}
		})
	}
	if cfg := DefaultConfig(); cfg.Validate() == nil {
		t.Error("defaults validate without Graph credentials; the graph sink must demand them")
	}
}

// TestAnalysisConfigIgnoresUploader: analyze takes the service's config without credentials.
func TestAnalysisConfigIgnoresUploader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(path, []byte("uploader:\n  sink: graph\ncall:\n  idle_timeout: 45s\n"), 0o600)
	cfg, err := LoadAnalysisConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Call.IdleTimeout.Seconds() != 45 {
		t.Errorf("idle_timeout = %v, want 45s", cfg.Call.IdleTimeout)
	}
}

// TestCheckRuntime: what the file alone cannot show is checked before the agent starts, and
// config check reports it: a missing or directory capture file, a spool under a regular file,
// an unset secret variable.
func TestCheckRuntime(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("x"), 0o600)
	t.Setenv("TDQ_TEST_UNSET_SECRET", "")
	yaml := "capture:\n  files: [missing.pcap, " + dir + "]\nuploader:\n  spool_dir: " + plain + "/spool\n" +
		"  graph:\n    tenant_id: t\n    client_id: c\n    client_secret_env: TDQ_TEST_UNSET_SECRET\n"
	path := filepath.Join(dir, "agent.yaml")
	os.WriteFile(path, []byte(yaml), 0o600)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("the file itself is valid: %v", err)
	}
	err = cfg.CheckRuntime()
	if err == nil {
		t.Fatal("CheckRuntime accepted missing files, a spool under a file and an unset secret")
	}
	for _, want := range []string{
		"capture.files[0]: stat " + filepath.Join(dir, "missing.pcap") + ": no such file",
		"capture.files[1]: " + dir + " is a directory",
		"uploader.spool_dir: \"" + plain + "/spool\" cannot be created: \"" + plain + "\" is not a directory",
		`uploader.graph.client_secret_env: environment variable "TDQ_TEST_UNSET_SECRET" is empty or unset`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestLogFileRotates writes past max_size_mb and finds the rotated file beside the live one.
func TestLogFileRotates(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig().Log
	cfg.File, cfg.Format, cfg.MaxSizeMB = filepath.Join(dir, "agent.log"), "json", 1
	log, err := NewLogger(cfg)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 1000)
	for i := 0; i < 1200; i++ { // about 1.2 MB of log
		log.Info("filler", zap.String("pad", line))
	}
	log.Sync()
	files, _ := filepath.Glob(filepath.Join(dir, "agent-*.log*"))
	if len(files) == 0 {
		t.Fatalf("no rotated file after 1.2 MB with max_size_mb 1")
	}
	if _, err := os.Stat(cfg.File); err != nil {
		t.Fatalf("the live log file: %v", err)
	}
	cfg.File = filepath.Join(dir, "missing-dir", "agent.log")
	if _, err := NewLogger(cfg); err == nil {
		t.Error("a log file in a missing folder was accepted")
	}
}

// TestConfigWarnings: an inline secret in a file others can read is named, with the mode and
// the way out, and never with the secret itself; an owner-only file, or a secret kept out of the
// file, gives nothing.
func TestConfigWarnings(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits do not describe Windows ACLs")
	}
	const secret = "s3cr3t-Value~with.chars"
	cases := []struct {
		name     string
		mode     os.FileMode
		secret   string // client_secret
		password string // certificate_password
		env      string // client_secret_env
		want     []string
	}{
		{"secret in a 0644 file", 0o644, secret, "", "", []string{
			"F: holds uploader.graph.client_secret and is readable by other users (mode 0644); move the secret to client_secret_env or client_secret_file, or chmod 600 F"}},
		{"group-readable is readable by others", 0o640, secret, "", "", []string{"(mode 0640)"}},
		{"secret in a 0600 file", 0o600, secret, "", "", nil},
		{"certificate password in a 0604 file", 0o604, "", secret, "", []string{
			"F: holds uploader.graph.certificate_password and is readable by other users (mode 0604); move the secret to certificate_password_env or certificate_password_file, or chmod 600 F"}},
		{"both", 0o644, secret, secret, "", []string{"client_secret and", "certificate_password and"}},
		{"secret from the environment", 0o644, "", "", "TDQ_CLIENT_SECRET", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.yaml")
			if err := os.WriteFile(path, []byte("uploader: {}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // Chmod: the umask does not apply
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Uploader.Graph.ClientSecret = tc.secret
			cfg.Uploader.Graph.CertificatePassword = tc.password
			cfg.Uploader.Graph.ClientSecretEnv = tc.env
			got := cfg.Warnings(path)
			all := strings.ReplaceAll(strings.Join(got, "\n"), path, "F")
			if tc.want == nil && len(got) != 0 {
				t.Fatalf("warnings %q, want none", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("warnings lack %q:\n%s", w, all)
				}
			}
			if strings.Contains(all, secret) {
				t.Errorf("a warning shows the secret:\n%s", all)
			}
		})
	}
	if got := (&Config{}).Warnings(filepath.Join(t.TempDir(), "missing.yaml")); got != nil {
		t.Errorf("missing file: %q, want none", got)
	}
}

// TestLocalNetworks: capture.local takes networks as well as addresses; a flow's end inside one
// is the device's.
func TestLocalNetworks(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Capture.Local = []string{"10.20.0.0/24", "192.0.2.7", "::ffff:198.51.100.1"}
	pfx, err := cfg.Capture.LocalAddrs()
	if err != nil {
		t.Fatal(err)
	}
	l := newLocalizerNets(pfx)
	for addr, want := range map[string]bool{"10.20.0.10": true, "10.20.1.10": false, "192.0.2.7": true, "192.0.2.8": false, "198.51.100.1": true} {
		if got := l.isLocal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isLocal(%s) = %v, want %v", addr, got, want)
		}
	}
	calls := replay(t, filepath.Join("testdata", "lab", "clean", "clean.pcap"), "10.20.0.8/29")
	if len(calls) != 1 || calls[0].Body.Quality.MediaQualityList[0].LocalIPAddress != "10.20.0.10" {
		t.Errorf("with local 10.20.0.8/29 (.8 to .15) the device is %v, want 10.20.0.10", calls[0].Body.Quality.MediaQualityList[0].LocalIPAddress)
	}
	cfg.Capture.Local = []string{"10.20.0.0/33"}
	if _, err := cfg.Capture.LocalAddrs(); err == nil || !strings.Contains(err.Error(), "capture.local[0]") {
		t.Errorf("a bad network was accepted: %v", err)
	}
}

// TestPlaceholderWarning: the template's all-zero ids are valid GUIDs but no app's: config check
// and run say so.
func TestPlaceholderWarning(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("..", "configs", "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(cfg.Warnings(filepath.Join("..", "configs", "agent.yaml")), "\n")
	for _, key := range []string{"uploader.graph.tenant_id is still the template's placeholder", "uploader.graph.client_id is still the template's placeholder"} {
		if !strings.Contains(w, key) {
			t.Errorf("warnings lack %q:\n%s", key, w)
		}
	}
	cfg.Uploader.Graph.TenantID, cfg.Uploader.Graph.ClientID = "tenant-1", "client-1"
	if w := cfg.Warnings(filepath.Join("..", "configs", "agent.yaml")); len(w) != 0 && strings.Contains(strings.Join(w, ""), "placeholder") {
		t.Errorf("real ids still warned about: %v", w)
	}
}
