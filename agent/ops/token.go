package ops

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unicode"

	"go.uber.org/zap"
)

// tokenBytes is the generated token's entropy; it is written as 64 hex digits.
const tokenBytes = 32

// minTokenLen is the shortest token accepted from an existing file: an operator may write their
// own, but not a guessable one.
const minTokenLen = 32

// loadOrCreateToken returns the token in path, creating the file with a random token, readable
// by its owner only, when it does not exist.
func loadOrCreateToken(path string, log *zap.Logger) (string, error) {
	tok, err := readToken(path, log)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return tok, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create the folder of ops.token_file %q: %w", path, err)
	}
	buf := make([]byte, tokenBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("make a control token: %w", err)
	}
	tok = hex.EncodeToString(buf)
	created, err := writeNew(path, tok+"\n")
	if err != nil {
		return "", err
	}
	if !created { // another process made it in between: use theirs
		return readToken(path, log)
	}
	log.Info("control token created", zap.String("token_file", path))
	return tok, nil
}

// writeNew writes data to path only if path does not exist, atomically: a temporary file (mode
// 0600) is written, synced and then hard-linked to path, so nobody ever reads a half-written
// token and an existing file is never replaced. created is false when path already existed.
func writeNew(path, data string) (created bool, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".control-token-*")
	if err != nil {
		return false, fmt.Errorf("create ops.token_file %q: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return false, fmt.Errorf("restrict ops.token_file %q to its owner: %w", path, err)
	}
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write ops.token_file %q: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write ops.token_file %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("write ops.token_file %q: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("create ops.token_file %q: %w", path, err)
	}
	return true, nil
}

// readToken reads an existing token file. A file others may read is used, with a warning: the
// token only guards call identities, and the operator may have shared it on purpose.
func readToken(path string, log *zap.Logger) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "", fmt.Errorf("read ops.token_file %q: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	if strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return "", fmt.Errorf("ops.token_file %q: the token has spaces or control characters, want one word (delete the file and the agent makes a new one)", path)
	}
	if len(tok) < minTokenLen {
		return "", fmt.Errorf("ops.token_file %q: the token has %d characters, want at least %d (delete the file and the agent makes a new one)", path, len(tok), minTokenLen)
	}
	if runtime.GOOS != "windows" { // Windows has no mode bits; its ACLs are the installer's job
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("control token file is readable by others; chmod 600 it",
				zap.String("token_file", path), zap.Stringer("mode", fi.Mode().Perm()))
		}
	}
	return tok, nil
}

// tokenMatches compares in constant time; hashing first hides the token's length too.
func tokenMatches(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
