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
	dirRequests   = "requests"
	lockFile      = "lock"
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

	size int64 // of the file, for max_bytes
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
// pending entry in memory as well: records are a few kilobytes and their number is capped.
// One process at a time owns a spool, through an OS lock on its lock file.
type Spool struct {
	dir    string
	log    *zap.Logger
	now    func() time.Time
	limits limits
	lock   *os.File

	lastApplied int // records requeued by the last applyRequests, for `queue retry`

	corrupt atomic.Uint64 // files moved to corrupt/ since open
	dropped atomic.Uint64 // oldest records dropped to stay within the caps

	mu      sync.Mutex // guards pending, bytes and lastID, and orders file writes for one id
	pending map[string]Entry
	bytes   int64     // sum of the pending files' sizes
	lastID  time.Time // time part of the newest id, so ids stay strictly increasing
}

// limits are the caps of Config; zero means no cap.
type limits struct {
	maxRecords   int
	maxBytes     int64
	minFreeBytes int64
}

// ErrBelowFloor is returned by Put when writing would leave less free disk than min_free_bytes.
var ErrBelowFloor = errors.New("free disk space is below min_free_bytes")

// lockWait is how long OpenSpool waits for a lock another process holds: `tdq-agent queue`
// holds it for milliseconds, and a service restarting at that moment must not fail.
const lockWait = 2 * time.Second

// OpenSpool prepares dir (creating pending/, corrupt/, deadletter/, requests/ and tmp/), takes
// the spool's lock, removes leftover temp files of interrupted writes, loads pending records and
// applies retry requests an operator left. A record file that is unreadable, fails its checksum
// or does not parse is moved to corrupt/ with a WARN line and skipped: one bad file must never
// stop the agent. A spool another process holds is refused with a *LockedError.
func OpenSpool(dir string, log *zap.Logger) (*Spool, error) {
	return openSpool(dir, log, lockWait)
}

func openSpool(dir string, log *zap.Logger, wait time.Duration) (*Spool, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Spool{dir: dir, log: log, now: time.Now, pending: map[string]Entry{}}
	for _, sub := range []string{dirPending, dirCorrupt, dirDeadLetter, dirRequests, dirTmp} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("create spool directory: %w", err)
		}
	}
	lock, err := lockSpool(dir, wait)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	// Only the owner may clean tmp/: another agent's half-written file would vanish under it.
	if err := s.cleanTmp(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	s.applyRequests()
	return s, nil
}

// Close releases the spool's lock. The files stay as they are; the spool must not be used after.
func (s *Spool) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
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
		s.bytes += e.size
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
	e, err := decodeEntry(id, data)
	e.size = int64(len(data))
	return e, err
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
// and the trimmed bytes are exactly what will be sent. To stay within max_records and max_bytes
// it drops the oldest records first; when the disk is below min_free_bytes it writes nothing and
// returns an error wrapping ErrBelowFloor.
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
	data, err := encodeEntry(e)
	if err != nil {
		return Entry{}, err
	}
	e.size = int64(len(data))
	if err := s.checkFloor(e.size); err != nil {
		return Entry{}, err
	}
	s.makeRoom(e.size)
	if err := writeDurable(s.path(dirTmp), s.path(dirPending), e.ID+".json", data); err != nil {
		return Entry{}, fmt.Errorf("write spool entry %q: %w", e.ID, err)
	}
	s.pending[e.ID] = e
	s.bytes += e.size
	return e, nil
}

// checkFloor refuses a write that would leave less than min_free_bytes free. Dropping our own
// old records cannot help here: they are a few kilobytes, and whatever filled the disk was not
// the spool (max_bytes bounds it), so the record waits in memory until space returns.
func (s *Spool) checkFloor(size int64) error {
	if s.limits.minFreeBytes <= 0 {
		return nil
	}
	free, err := diskFree(s.dir)
	if err != nil {
		return nil // no answer is no reason to refuse; a real lack of space fails the write
	}
	if free-size < s.limits.minFreeBytes {
		return fmt.Errorf("spool %q: %s free: %w (%s)", s.dir, ByteSize(free), ErrBelowFloor, ByteSize(s.limits.minFreeBytes))
	}
	return nil
}

// makeRoom drops the oldest pending records until one more of size fits both caps. A record
// larger than max_bytes on its own is still written, into an otherwise empty spool: losing it
// would not make room for anything.
func (s *Spool) makeRoom(size int64) {
	for len(s.pending) > 0 {
		reason := ""
		switch {
		case s.limits.maxRecords > 0 && len(s.pending)+1 > s.limits.maxRecords:
			reason = "max_records"
		case s.limits.maxBytes > 0 && s.bytes+size > s.limits.maxBytes:
			reason = "max_bytes"
		default:
			return
		}
		s.dropOldest(reason)
	}
}

func (s *Spool) dropOldest(reason string) {
	var old Entry
	for id, e := range s.pending {
		if old.ID == "" || id < old.ID {
			old = e
		}
	}
	delete(s.pending, old.ID)
	s.bytes -= old.size
	n := s.dropped.Add(1)
	err := os.Remove(filepath.Join(s.path(dirPending), old.ID+".json"))
	if err == nil {
		err = syncDir(s.path(dirPending))
	}
	fields := []zap.Field{zap.String("id", old.ID), zap.Time("created_at", old.CreatedAt), zap.Int("attempts", old.Attempts),
		zap.String("cap", reason), zap.Int("max_records", s.limits.maxRecords),
		zap.Stringer("max_bytes", ByteSize(s.limits.maxBytes)), zap.Uint64("dropped_total", n)}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fields = append(fields, zap.Error(err))
	}
	s.log.Warn("spool full; dropped the oldest record", fields...)
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

// write rewrites a pending entry's file and returns its new size.
func (s *Spool) write(e Entry) (int64, error) {
	data, err := encodeEntry(e)
	if err != nil {
		return 0, err
	}
	if err := writeDurable(s.path(dirTmp), s.path(dirPending), e.ID+".json", data); err != nil {
		return 0, fmt.Errorf("write spool entry %q: %w", e.ID, err)
	}
	return int64(len(data)), nil
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
	size, err := s.write(old)
	if err == nil {
		s.bytes += size - old.size
		old.size = size
	}
	s.pending[e.ID] = old
	return err
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
	s.forget(id)
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
		s.forget(e.ID)
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(e.ID)
	name := e.ID + ".json"
	if err := moveDurable(s.path(dirPending), s.path(dirDeadLetter), name, name); err != nil {
		return fmt.Errorf("dead-letter spool entry %q: %w", e.ID, err)
	}
	return nil
}

// forget drops a record from memory; s.mu must be held.
func (s *Spool) forget(id string) {
	if e, ok := s.pending[id]; ok {
		s.bytes -= e.size
		delete(s.pending, id)
	}
}

// usage returns the number and bytes of pending records.
func (s *Spool) usage() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending), s.bytes
}
