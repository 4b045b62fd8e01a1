package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tdq-agent/tdq-agent/agent/ops"
	"github.com/tdq-agent/tdq-agent/capture"
	"github.com/tdq-agent/tdq-agent/metrics"
	"github.com/tdq-agent/tdq-agent/uploader"
)

// Config is the whole config file. Each section belongs to the package that uses it.
type Config struct {
	Device   DeviceConfig    `yaml:"device"`
	Capture  capture.Config  `yaml:"capture"`
	Call     CallConfig      `yaml:"call"`
	Metrics  metrics.Config  `yaml:"metrics"`
	Uploader uploader.Config `yaml:"uploader"`
	Ops      ops.Config      `yaml:"ops"`
	Log      LogConfig       `yaml:"log"`
}

// DeviceConfig names the device in every record. Empty name and description are filled from the
// host name and what the OS says of the hardware.
type DeviceConfig struct {
	Name                              string `yaml:"name"`
	Description                       string `yaml:"description"`
	CloudServiceName                  string `yaml:"cloud_service_name"`
	CloudServiceInstanceName          string `yaml:"cloud_service_instance_name"`
	CloudServiceDeploymentID          string `yaml:"cloud_service_deployment_id"`
	CloudServiceDeploymentEnvironment string `yaml:"cloud_service_deployment_environment"`
}

// CallConfig says when calls end and what counts as active media.
type CallConfig struct {
	// IdleTimeout ends a call when none of its channels carried RTP for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MediaGap is the silence that closes an active media period (mediaDuration).
	MediaGap time.Duration `yaml:"media_gap"`
}

// LogConfig selects the log format, level and destination.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // console or json
	File   string `yaml:"file"`   // empty: standard error
	// Rotation of the file: a new one past MaxSizeMB; rotated files kept up to MaxBackups and
	// MaxAge (whole days), compressed.
	MaxSizeMB  int           `yaml:"max_size_mb"`
	MaxBackups int           `yaml:"max_backups"`
	MaxAge     time.Duration `yaml:"max_age"`
}

// DefaultConfig returns the defaults documented in configs/agent.yaml.
func DefaultConfig() Config {
	return Config{
		Call:     CallConfig{IdleTimeout: 30 * time.Second, MediaGap: 2 * time.Second},
		Capture:  capture.Config{ReplaySpeed: 0},
		Metrics:  metrics.DefaultConfig(),
		Uploader: uploader.DefaultConfig(),
		Ops:      ops.DefaultConfig(),
		Log:      LogConfig{Level: "info", Format: "console", MaxSizeMB: 20, MaxBackups: 5, MaxAge: 30 * 24 * time.Hour},
	}
}

// Validate reports every problem in the config, each naming its key.
func (c *Config) Validate() error {
	return errors.Join(c.validateAnalysis(), c.Uploader.Validate(), c.Ops.Validate())
}

// validateAnalysis checks what offline analysis uses: everything but the uploader, so analyze
// can take the service's config file without its credentials being reachable.
func (c *Config) validateAnalysis() error {
	var errs []error
	if c.Call.IdleTimeout < time.Second || c.Call.IdleTimeout > 24*time.Hour {
		errs = append(errs, fmt.Errorf("call.idle_timeout: %s is out of range, want a duration from 1s to 24h such as \"30s\"", c.Call.IdleTimeout))
	}
	if c.Call.MediaGap < 100*time.Millisecond || c.Call.MediaGap > time.Hour {
		errs = append(errs, fmt.Errorf("call.media_gap: %s is out of range, want a duration from 100ms to 1h such as \"2s\"", c.Call.MediaGap))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not a level, want debug, info, warn or error", c.Log.Level))
	}
	if c.Log.MaxSizeMB < 1 || c.Log.MaxSizeMB > 10000 {
		errs = append(errs, fmt.Errorf("log.max_size_mb: %d is out of range, want 1 to 10000", c.Log.MaxSizeMB))
	}
	if c.Log.MaxBackups < 0 || c.Log.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("log.max_backups, log.max_age: want 0 (keep all) or more"))
	}
	if c.Log.Format != "console" && c.Log.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format: %q is not a format, want console or json", c.Log.Format))
	}
	errs = append(errs, c.Capture.Validate(), c.Metrics.Validate())
	return errors.Join(errs...)
}

// CheckRuntime checks what the file alone cannot show, changing nothing: capture files exist and
// are files, the log file's folder exists, the uploader's folders and secret are reachable.
func (c *Config) CheckRuntime() error {
	var errs []error
	for i, f := range c.Capture.Files {
		info, err := os.Stat(f)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("capture.files[%d]: %w", i, err))
		case info.IsDir():
			errs = append(errs, fmt.Errorf("capture.files[%d]: %s is a directory, want a pcap or pcapng file", i, f))
		}
	}
	if c.Log.File != "" {
		if info, err := os.Stat(filepath.Dir(c.Log.File)); err != nil || !info.IsDir() {
			errs = append(errs, fmt.Errorf("log.file: the folder of %s does not exist", c.Log.File))
		}
	}
	errs = append(errs, c.Uploader.CheckRuntime())
	return errors.Join(errs...)
}

// Warnings returns what an operator should fix in a config that loaded, one line each, for
// `config check` and the start of the agent: an inline secret (uploader.graph.client_secret or
// certificate_password) in a file that users other than its owner may read (group or other read
// bit). The lines name the key and the file's mode, never the secret. path is the file the
// config was loaded from. On Windows the mode bits say nothing of the file's ACL: no warning.
func (c *Config) Warnings(path string) []string {
	out := c.placeholders(path)
	if runtime.GOOS == "windows" {
		return out
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm()&0o044 == 0 {
		return out
	}
	g := c.Uploader.Graph
	for _, s := range []struct{ key, value string }{
		{"client_secret", g.ClientSecret},
		{"certificate_password", g.CertificatePassword},
	} {
		if s.value == "" {
			continue
		}
		out = append(out, fmt.Sprintf("%s: holds uploader.graph.%s and is readable by other users (mode %#o); "+
			"move the secret to %s_env or %s_file, or chmod 600 %s", path, s.key, info.Mode().Perm(), s.key, s.key, path))
	}
	return out
}

// placeholder is the all-zero GUID configs/agent.yaml ships in place of the app's ids.
const placeholder = "00000000-0000-0000-0000-000000000000"

// placeholders names the template's ids still in place: Graph would refuse every token request.
func (c *Config) placeholders(path string) []string {
	if c.Uploader.Sink != uploader.SinkGraph {
		return nil
	}
	var out []string
	for _, id := range []struct{ key, value string }{
		{"tenant_id", c.Uploader.Graph.TenantID},
		{"client_id", c.Uploader.Graph.ClientID},
	} {
		if id.value == placeholder {
			out = append(out, fmt.Sprintf("%s: uploader.graph.%s is still the template's placeholder (all zeros); set your app registration's id", path, id.key))
		}
	}
	return out
}

// LoadConfig reads a config file over the defaults, rejects unknown keys and bad values, and
// reports each problem as "FILE:LINE: key: what was expected". Relative paths in the file are
// taken relative to the file's folder, so the config means the same from any working directory.
func LoadConfig(path string) (Config, error) {
	return load(path, (*Config).Validate)
}

// LoadAnalysisConfig is LoadConfig for offline analysis: the uploader section is read but not
// checked, as nothing is uploaded.
func LoadAnalysisConfig(path string) (Config, error) {
	return load(path, (*Config).validateAnalysis)
}

func load(path string, validate func(*Config) error) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, errors.New(withFile(path, err.Error(), nil))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && err != io.EOF { // EOF: an empty file, all defaults
		return cfg, errors.New(withFile(path, err.Error(), &root))
	}
	if err := validate(&cfg); err != nil {
		return cfg, locate(path, &root, err)
	}
	cfg.resolvePaths(filepath.Dir(path))
	return cfg, nil
}

func (c *Config) resolvePaths(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i, f := range c.Capture.Files {
		c.Capture.Files[i] = abs(f)
	}
	c.Uploader.ResolvePaths(abs)
	c.Ops.ResolvePaths(abs)
	c.Log.File = abs(c.Log.File)
}

var (
	yamlLine    = regexp.MustCompile(`^\s*(?:yaml: )?line (\d+): (.*)$`)
	unknownKey  = regexp.MustCompile(`^field (\S+) not found in type`)
	wrongType   = regexp.MustCompile("^cannot unmarshal !!\\w+ `(.*)` into (\\S+)$")
	expectedFor = map[string]string{
		"time.Duration": `a duration such as "30s" or "500ms"`,
		"uint8":         "a whole number from 0 to 255",
		"uint16":        "a whole number from 0 to 65535",
		"uint32":        "a whole number",
		"int":           "a whole number",
		"float64":       "a number",
		"string":        "a string",
		"bool":          "true or false",
		"[]string":      "a list",
	}
)

// withFile rewrites yaml.v3's "line N: ..." messages as "FILE:N: key: what was wrong, what was
// expected", naming the key at that line when root is given.
func withFile(path, msg string, root *yaml.Node) string {
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n")
	var out []string
	for _, line := range strings.Split(msg, "\n") {
		m := yamlLine.FindStringSubmatch(line)
		if m == nil {
			out = append(out, path+": "+strings.TrimPrefix(strings.TrimSpace(line), "yaml: "))
			continue
		}
		n, _ := strconv.Atoi(m[1])
		text := m[2]
		key := keyAtLine(root, n)
		if u := unknownKey.FindStringSubmatch(text); u != nil {
			parent := key[:max(0, strings.LastIndex(key, "."))]
			if parent == "" {
				text = fmt.Sprintf("unknown key %q at the top level (configs/agent.yaml lists every key)", u[1])
			} else {
				text = fmt.Sprintf("unknown key %q in %s (configs/agent.yaml lists every key)", u[1], parent)
			}
		} else if w := wrongType.FindStringSubmatch(text); w != nil {
			want := expectedFor[w[2]]
			if want == "" {
				want = strings.TrimPrefix(w[2], "map")
				if strings.HasPrefix(w[2], "map[") {
					want = "a mapping"
				}
			}
			text = fmt.Sprintf("%q is not valid here, want %s", w[1], want)
			if key != "" {
				text = key + ": " + text
			}
		}
		out = append(out, path+":"+m[1]+": "+text)
	}
	return strings.Join(out, "\n")
}

// keyAtLine returns the dotted path of the key written on a line ("call.idle_timeout"), or of
// the mapping entry a list item or value on that line belongs to.
func keyAtLine(root *yaml.Node, line int) string {
	if root == nil {
		return ""
	}
	var walk func(n *yaml.Node, path string) string
	walk = func(n *yaml.Node, path string) string {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if p := walk(c, path); p != "" {
					return p
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if k.Line == line {
					return p
				}
				if found := walk(v, p); found != "" {
					return found
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if c.Line == line && c.Kind == yaml.ScalarNode {
					return p
				}
				if found := walk(c, p); found != "" {
					return found
				}
			}
		}
		return ""
	}
	return walk(root, "")
}

// locate prefixes each validation error with the file and the line of the key it names.
func locate(path string, root *yaml.Node, err error) error {
	var lines []string
	for _, e := range flatten(err) {
		msg := e.Error()
		key, _, _ := strings.Cut(msg, ":")
		if n := lineOf(root, key); n > 0 {
			lines = append(lines, path+":"+strconv.Itoa(n)+": "+msg)
		} else {
			lines = append(lines, path+": "+msg)
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

var indexSuffix = regexp.MustCompile(`\[(\d+)\]$`)

// lineOf finds the line of a dotted key path ("uploader.graph.client_id", "capture.files[2]").
// A key that is absent (a default that failed) reports its nearest present parent.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(path, ".") {
		idx := -1
		if m := indexSuffix.FindStringSubmatch(part); m != nil {
			idx, _ = strconv.Atoi(m[1])
			part = part[:len(part)-len(m[0])]
		}
		next := mapValue(n, part)
		if next == nil {
			return line
		}
		line, n = next.Line, next
		if idx >= 0 && n.Kind == yaml.SequenceNode && idx < len(n.Content) {
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
