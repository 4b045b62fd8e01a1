package uploader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// outboxTmp is a subdirectory so that whatever watches the outbox for *.json never sees a
// half-written file.
const outboxTmp = ".tmp"

// outboxSink writes each record as a file, for sites where another tool carries records to Graph
// and for demos without a tenant.
type outboxSink struct {
	dir string
}

// NewOutboxSink returns a Sink that writes each body durably to dir/<id>.json. The file is named
// after the spool id when the uploader sends, so a record sent again after a crash overwrites its
// earlier copy instead of appearing twice.
func NewOutboxSink(dir string) (Sink, error) {
	if dir == "" {
		return nil, fmt.Errorf("uploader.outbox_dir: required when sink is %q", SinkOutbox)
	}
	tmp := filepath.Join(dir, outboxTmp)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("create outbox directory: %w", err)
	}
	// Leftovers of writes cut short by a crash; their records are still in the spool.
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return nil, fmt.Errorf("read outbox temp directory: %w", err)
	}
	for _, de := range ents {
		if err := os.RemoveAll(filepath.Join(tmp, de.Name())); err != nil {
			return nil, fmt.Errorf("remove leftover outbox temp file: %w", err)
		}
	}
	return &outboxSink{dir: dir}, nil
}

// Send writes body as is. Every failure is retryable: a full or read-only disk may recover.
func (o *outboxSink) Send(ctx context.Context, body []byte) error {
	info := sendInfoFrom(ctx)
	name := info.ID
	if name == "" {
		var r [4]byte
		_, _ = rand.Read(r[:])
		name = time.Now().UTC().Format(idLayout) + "-" + hex.EncodeToString(r[:])
	}
	if err := writeDurable(filepath.Join(o.dir, outboxTmp), o.dir, name+".json", body); err != nil {
		return &RetryableError{Err: fmt.Errorf("write outbox file: %w", err)}
	}
	info.File = filepath.Join(o.dir, name+".json")
	return nil
}
