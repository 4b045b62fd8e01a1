package uploader

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// secretSource is where one secret lives: inline in the config, in an environment variable, or
// in a file, so it can stay out of the config file. The value is read each time it is needed,
// so a rotated file or environment is picked up when the credential is next built.
type secretSource struct {
	key            string // yaml key of the inline value, e.g. "uploader.graph.client_secret"
	value, env, fp string
}

func (s secretSource) count() int { return countSet(s.value, s.env, s.fp) }

// read returns the secret. Errors name where it was looked for, never its content.
func (s secretSource) read() (string, error) {
	switch {
	case s.value != "":
		return s.value, nil
	case s.env != "":
		v := strings.TrimSpace(os.Getenv(s.env))
		if v == "" {
			return "", fmt.Errorf("%s_env: environment variable %q is empty or unset", s.key, s.env)
		}
		return v, nil
	case s.fp != "":
		b, err := os.ReadFile(s.fp)
		if err != nil {
			// The *PathError names the file and the reason, never its contents.
			return "", fmt.Errorf("%s_file: %w", s.key, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s_file: %q is empty", s.key, s.fp)
		}
		return v, nil
	default:
		return "", errors.New(s.key + ": not set")
	}
}

// redact replaces every occurrence of the given secrets in s; text that comes back from a remote
// server (an error description) may echo what was sent.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}
