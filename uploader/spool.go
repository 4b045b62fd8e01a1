package uploader

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Subdirectories of the spool directory; see the package doc for what each holds.
const (
	dirPending    = "pending"
	dirCorrupt    = "corrupt"
	dirDeadLetter = "deadletter"
	dirTmp        = "tmp"
)

const envelopeVersion = 1

// idLayout puts the creation time first so that file names sort in creation order; the fixed
// nine fractional digits keep lexical and time order the same.
const idLayout = "20060102T150405.000000000Z"

var idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[0-9a-f]{8}$`)

// Entry is one spooled record and its delivery state.
type Entry struct {
	ID          string
	CreatedAt   time.Time
	Attempts    int       // failed delivery attempts so far
	NextAttempt time.Time // not sent before this time (records never attempted are always due)
	LastStatus  string    // outcome of the last attempt, for operators
	Body        []byte    // the Graph request body; shared, do not modify
}

// envelope is the on-disk form of an Entry. The body is spliced in as raw JSON rather than
// marshalled, because encoding/json would compact and HTML-escape it and the bytes sent to Graph
// must be the bytes that were spooled.
type envelope struct {
	Version     int             `json:"version"`
	ID          string          `json:"id"`
	CreatedAt   time.Time       `json:"created_at"`
	Attempts    int             `json:"attempts"`
	NextAttempt time.Time       `json:"next_attempt"`
	LastStatus  string          `json:"last_status"`
	BodySHA256  string          `json:"body_sha256"`
	Body        json.RawMessage `json:"body,omitempty"`
}

// Spool is a directory of records waiting for delivery, safe for concurrent use. It keeps every
// pending entry in memory as well: records are a few kilobytes and the count is small.
type Spool struct {
	dir string
	log *zap.Logger
	now func() time.Time

	corrupt atomic.Uint64 // files moved to corrupt/ since open

	mu      sync.Mutex // guards pending and lastID, and orders file writes for one id
	pending map[string]Entry
	lastID  time.Time // time part of the newest id, so ids stay strictly increasing
}

// OpenSpool prepares dir (creating pending/, corrupt/, deadletter/ and tmp/), removes leftover
// temp files of interrupted writes, and loads pending records. A record file that is unreadable,
// fails its checksum or does not parse is moved to corrupt/ with a WARN line and skipped: one bad
// file must never stop the agent.
func OpenSpool(dir string, log *zap.Logger) (*Spool, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Spool{dir: dir, log: log, now: time.Now, pending: map[string]Entry{}}
	for _, sub := range []string{dirPending, dirCorrupt, dirDeadLetter, dirTmp} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("create spool directory: %w", err)
		}
	}
	if err := s.cleanTmp(); err != nil {
		return nil, err
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Spool) path(sub string) string { return filepath.Join(s.dir, sub) }

func (s *Spool) cleanTmp() error {
	ents, err := os.ReadDir(s.path(dirTmp))
	if err != nil {
		return fmt.Errorf("read spool tmp directory: %w", err)
	}
	for _, de := range ents {
		if err := os.RemoveAll(filepath.Join(s.path(dirTmp), de.Name())); err != nil {
			return fmt.Errorf("remove leftover temp file: %w", err)
		}
	}
	return nil
}

func (s *Spool) load() error {
	ents, err := os.ReadDir(s.path(dirPending))
	if err != nil {
		return fmt.Errorf("read spool pending directory: %w", err)
	}
	for _, de := range ents {
		e, err := s.readEntry(de)
		if err != nil {
			s.quarantine(de.Name(), err)
			continue
		}
		s.pending[e.ID] = e
	}
	return nil
}

func (s *Spool) readEntry(de os.DirEntry) (Entry, error) {
	if !de.Type().IsRegular() {
		return Entry{}, errors.New("not a regular file")
	}
	id, ok := strings.CutSuffix(de.Name(), ".json")
	if !ok || !idPattern.MatchString(id) {
		return Entry{}, errors.New("name is not <id>.json")
	}
	data, err := os.ReadFile(filepath.Join(s.path(dirPending), de.Name()))
	if err != nil {
		return Entry{}, err
	}
	return decodeEntry(id, data)
}

func decodeEntry(id string, data []byte) (Entry, error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return Entry{}, fmt.Errorf("parse: %w", err)
	}
	switch {
	case env.Version != envelopeVersion:
		return Entry{}, fmt.Errorf("unknown version %d", env.Version)
	case env.ID != id:
		return Entry{}, fmt.Errorf("id %q does not match the file name", env.ID)
	case len(env.Body) == 0:
		return Entry{}, errors.New("no body")
	}
	sum := sha256.Sum256(env.Body)
	if hex.EncodeToString(sum[:]) != env.BodySHA256 {
		return Entry{}, errors.New("body checksum mismatch")
	}
	return Entry{
		ID:          env.ID,
		CreatedAt:   env.CreatedAt,
		Attempts:    env.Attempts,
		NextAttempt: env.NextAttempt,
		LastStatus:  env.LastStatus,
		Body:        env.Body,
	}, nil
}

func encodeEntry(e Entry) ([]byte, error) {
	sum := sha256.Sum256(e.Body)
	head, err := json.Marshal(envelope{
		Version:     envelopeVersion,
		ID:          e.ID,
		CreatedAt:   e.CreatedAt,
		Attempts:    e.Attempts,
		NextAttempt: e.NextAttempt,
		LastStatus:  e.LastStatus,
		BodySHA256:  hex.EncodeToString(sum[:]),
	})
	if err != nil {
		return nil, fmt.Errorf("encode spool entry %q: %w", e.ID, err)
	}
	buf := make([]byte, 0, len(head)+len(e.Body)+16)
	buf = append(buf, head[:len(head)-1]...) // drop the closing brace
	buf = append(buf, `,"body":`...)
	buf = append(buf, e.Body...)
	buf = append(buf, "}\n"...)
	return buf, nil
}

// quarantine moves a bad file aside so it is neither retried nor lost; an operator can look at it.
func (s *Spool) quarantine(name string, reason error) {
	dst := name
	if _, err := os.Lstat(filepath.Join(s.path(dirCorrupt), dst)); err == nil {
		dst = fmt.Sprintf("%s.%d", name, time.Now().UnixNano())
	}
	err := moveDurable(s.path(dirPending), s.path(dirCorrupt), name, dst)
	s.corrupt.Add(1)
	if err != nil {
		s.log.Warn("corrupt spool file could not be moved aside; skipping it",
			zap.String("file", name), zap.NamedError("reason", reason), zap.Error(err))
		return
	}
	s.log.Warn("corrupt spool file moved to corrupt/",
		zap.String("file", name), zap.String("moved_to", filepath.Join(dirCorrupt, dst)), zap.NamedError("reason", reason))
}

// Put stores body as a new pending record and returns only once the record is durable. The body
// must be JSON; surrounding whitespace is trimmed (it is what comes back from the file anyway),
// and the trimmed bytes are exactly what will be sent.
func (s *Spool) Put(body []byte) (Entry, error) {
	body = bytes.TrimSpace(body)
	if !json.Valid(body) {
		return Entry{}, errors.New("spool record: body is not valid JSON")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC().Round(0)
	e := Entry{
		ID:          s.newID(now),
		CreatedAt:   now,
		NextAttempt: now,
		Body:        bytes.Clone(body),
	}
	if err := s.write(e); err != nil {
		return Entry{}, err
	}
	s.pending[e.ID] = e
	return e, nil
}

// newID returns a time-prefixed id, strictly increasing within this process even when the clock
// stalls or steps back, with a random suffix so two processes (or a restart within the same
// nanosecond) cannot collide.
func (s *Spool) newID(now time.Time) string {
	t := now
	if !t.After(s.lastID) {
		t = s.lastID.Add(time.Nanosecond)
	}
	s.lastID = t
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails on supported platforms
	return t.Format(idLayout) + "-" + hex.EncodeToString(r[:])
}

func (s *Spool) write(e Entry) error {
	data, err := encodeEntry(e)
	if err != nil {
		return err
	}
	if err := writeDurable(s.path(dirTmp), s.path(dirPending), e.ID+".json", data); err != nil {
		return fmt.Errorf("write spool entry %q: %w", e.ID, err)
	}
	return nil
}

// Pending returns the pending records, oldest first. Order is by id, which is the order of
// spooling even when the wall clock stalled or stepped back in between.
func (s *Spool) Pending() []Entry {
	s.mu.Lock()
	out := make([]Entry, 0, len(s.pending))
	for _, e := range s.pending {
		out = append(out, e)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (s *Spool) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Update stores new delivery state (attempts, next attempt, last status) for a pending record,
// durably. The in-memory copy is updated even when the write fails, so a record whose file cannot
// be rewritten is still scheduled by its new next attempt instead of being retried at once; on
// disk it keeps the older, harmless state.
func (s *Spool) Update(e Entry) error {
	if !idPattern.MatchString(e.ID) {
		return fmt.Errorf("update spool entry %q: not a spool id", e.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.pending[e.ID]
	if !ok {
		return fmt.Errorf("update spool entry %q: %w", e.ID, os.ErrNotExist)
	}
	old.Attempts, old.NextAttempt, old.LastStatus = e.Attempts, e.NextAttempt, e.LastStatus
	s.pending[e.ID] = old
	return s.write(old)
}

// Delete removes an accepted record. The record leaves the in-memory list even if the file cannot
// be removed: sending it again in this process would only duplicate it, and after a restart it is
// sent once more at worst.
func (s *Spool) Delete(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("delete spool entry %q: not a spool id", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, id)
	if err := os.Remove(filepath.Join(s.path(dirPending), id+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete spool entry %q: %w", id, err)
	}
	return syncDir(s.path(dirPending))
}

// deadLetter records the final status in the entry's file and moves it to deadletter/, where it
// waits for an operator. Like Delete, it drops the record from the retry loop even on failure.
func (s *Spool) deadLetter(e Entry) error {
	if err := s.Update(e); err != nil {
		s.mu.Lock()
		delete(s.pending, e.ID)
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, e.ID)
	name := e.ID + ".json"
	if err := moveDurable(s.path(dirPending), s.path(dirDeadLetter), name, name); err != nil {
		return fmt.Errorf("dead-letter spool entry %q: %w", e.ID, err)
	}
	return nil
}
