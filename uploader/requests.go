package uploader

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// An operator's `queue retry` must not edit pending/ under a running uploader: the uploader keeps
// each record's state in memory and would overwrite the file at its next attempt, and it never
// rereads pending/. So the command leaves a request file in requests/ (written durably, like a
// record) and the spool's owner applies it: the running uploader on its next turn (within
// requestPoll), or, when no agent runs, the command itself after taking the lock. A request
// survives a crash and is applied by the next owner; applying one twice is harmless.

const retryAll = "*"

// RetryResult says what became of a retry request.
type RetryResult struct {
	Applied int // records requeued now, when no agent held the spool
	Queued  bool
	PID     int // of the running agent that will apply the request, 0 when unknown
}

// RequestRetry asks for a record (id), or with id "" every dead-lettered and every waiting
// pending record, to be sent again at once as if new: attempts reset (so max_age gets one more
// attempt), next attempt now, the last status kept in the new one. It is safe while an agent
// runs; see RetryResult for who applies it.
func RequestRetry(dir, id string) (RetryResult, error) {
	target := retryAll
	if id != "" {
		if !idPattern.MatchString(id) {
			return RetryResult{}, fmt.Errorf("retry %q: not a record id (see queue list)", id)
		}
		if !exists(filepath.Join(dir, dirPending, id+".json")) && !exists(filepath.Join(dir, dirDeadLetter, id+".json")) {
			return RetryResult{}, fmt.Errorf("retry %q: no such record in pending/ or deadletter/ of %q", id, dir)
		}
		target = id
	}
	if !exists(filepath.Join(dir, dirRequests)) {
		return RetryResult{}, fmt.Errorf("retry: %q is not a spool (no requests/ folder)", dir)
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := fmt.Sprintf("%020d-%s.retry", time.Now().UnixNano(), hex.EncodeToString(r[:]))
	if err := writeDurable(filepath.Join(dir, dirTmp), filepath.Join(dir, dirRequests), name, []byte(target+"\n")); err != nil {
		return RetryResult{}, fmt.Errorf("write retry request: %w", err)
	}
	s, err := openSpool(dir, nil, 0)
	if le, ok := errors.AsType[*LockedError](err); ok {
		return RetryResult{Queued: true, PID: le.PID}, nil
	}
	if err != nil {
		return RetryResult{Queued: true}, err
	}
	n := s.lastApplied
	return RetryResult{Applied: n}, s.Close()
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// applyRequests carries out the retry requests in requests/, oldest first, and removes each one
// once applied. The caller owns the spool and no send is in flight.
func (s *Spool) applyRequests() {
	s.lastApplied = 0
	dir := s.path(dirRequests)
	ents, err := os.ReadDir(dir)
	if err != nil {
		s.log.Warn("retry requests could not be read", zap.Error(err))
		return
	}
	removed := false
	for _, de := range ents {
		if !strings.HasSuffix(de.Name(), ".retry") {
			continue
		}
		path := filepath.Join(dir, de.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			s.log.Warn("retry request could not be read", zap.String("file", de.Name()), zap.Error(err))
			continue
		}
		s.lastApplied += s.requeue(strings.TrimSpace(string(b)))
		if err := os.Remove(path); err != nil {
			s.log.Warn("applied retry request could not be removed; it will be applied again", zap.String("file", de.Name()), zap.Error(err))
			continue
		}
		removed = true
	}
	if removed {
		_ = syncDir(dir) // a request applied twice after a crash is harmless
	}
}

// requeue resets target (an id or retryAll) for an immediate attempt and returns how many
// records it requeued.
func (s *Spool) requeue(target string) int {
	n := 0
	s.mu.Lock()
	var ids []string
	for id, e := range s.pending {
		if id == target || (target == retryAll && e.Attempts > 0) {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	for _, id := range ids {
		if err := s.requeuePending(id); err != nil {
			s.log.Warn("retry request could not be applied", zap.String("id", id), zap.Error(err))
			continue
		}
		n++
	}
	var dead []string
	if target == retryAll {
		ents, _ := os.ReadDir(s.path(dirDeadLetter))
		for _, de := range ents {
			if id, ok := strings.CutSuffix(de.Name(), ".json"); ok && idPattern.MatchString(id) {
				dead = append(dead, id)
			}
		}
	} else if len(ids) == 0 {
		dead = []string{target}
	}
	for _, id := range dead {
		if err := s.requeueDead(id); err != nil {
			s.log.Warn("retry request could not be applied", zap.String("id", id), zap.Error(err))
			continue
		}
		n++
	}
	return n
}

func (s *Spool) requeued(e Entry) Entry {
	e.LastStatus = truncate("requeued by operator after "+strconv.Itoa(e.Attempts)+" attempts; last status: "+e.LastStatus, maxStatus)
	e.Attempts = 0
	e.NextAttempt = s.now().UTC().Round(0)
	return e
}

func (s *Spool) requeuePending(id string) error {
	s.mu.Lock()
	e, ok := s.pending[id]
	s.mu.Unlock()
	if !ok {
		return os.ErrNotExist
	}
	if err := s.Update(s.requeued(e)); err != nil {
		return err
	}
	s.log.Info("record requeued by operator", zap.String("id", id), zap.String("from", dirPending), zap.Int("attempts_before", e.Attempts))
	return nil
}

// requeueDead moves a dead-lettered record back to pending/: written there first, then removed
// from deadletter/, so a crash in between leaves a copy in both places rather than in neither.
func (s *Spool) requeueDead(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("requeue %q: not a record id", id)
	}
	src := filepath.Join(s.path(dirDeadLetter), id+".json")
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("requeue %q: %w", id, err)
	}
	e, err := decodeEntry(id, data)
	if err != nil {
		return fmt.Errorf("requeue %q: dead-letter file does not decode: %w", id, err)
	}
	before := e.Attempts
	e = s.requeued(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	size, err := s.write(e)
	if err != nil {
		return err
	}
	e.size = size
	s.pending[id] = e
	s.bytes += size
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("requeue %q: remove dead-letter copy: %w", id, err)
	}
	_ = syncDir(s.path(dirDeadLetter)) // a leftover copy is an operator's duplicate, not a loss
	s.log.Info("record requeued by operator", zap.String("id", id), zap.String("from", dirDeadLetter), zap.Int("attempts_before", before))
	return nil
}
