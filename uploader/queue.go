package uploader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Record states as `tdq-agent queue` shows them: the folder a record's file is in.
const (
	StatePending    = dirPending
	StateDeadLetter = dirDeadLetter
	StateCorrupt    = dirCorrupt
)

// QueueItem is one file of a spool as an operator sees it. Listing takes no lock and changes
// nothing, so it is safe while an agent runs: every file is replaced by an atomic rename, so a
// read sees an old or a new version, never half of one; a file that vanishes between listing and
// reading (delivered a moment ago) is left out.
type QueueItem struct {
	State string
	Name  string // file name in its folder
	Size  int64
	Entry Entry // decoded record; for a corrupt file, whatever could be read
	Err   error // why a corrupt file does not decode
}

// ListQueue lists the records of the spool in dir, pending first, then dead-lettered, then
// corrupt, each oldest first. Bodies are left out (Entry.Body is nil).
func ListQueue(dir string) ([]QueueItem, error) {
	if !exists(filepath.Join(dir, dirPending)) {
		return nil, fmt.Errorf("list queue: %q is not a spool (no pending/ folder)", dir)
	}
	var out []QueueItem
	for _, state := range []string{StatePending, StateDeadLetter, StateCorrupt} {
		ents, err := os.ReadDir(filepath.Join(dir, state))
		if err != nil {
			return nil, fmt.Errorf("list queue: %w", err)
		}
		for _, de := range ents {
			it, ok := readItem(dir, state, de.Name())
			if !ok {
				continue
			}
			it.Entry.Body = nil
			out = append(out, it)
		}
	}
	return out, nil
}

// ShowQueue returns one record, body included, looked up by id in every folder.
func ShowQueue(dir, id string) (QueueItem, error) {
	if id == "" || strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return QueueItem{}, fmt.Errorf("show %q: not a record id (see queue list)", id)
	}
	for _, state := range []string{StatePending, StateDeadLetter, StateCorrupt} {
		for _, name := range []string{id + ".json", id} {
			if it, ok := readItem(dir, state, name); ok {
				return it, nil
			}
		}
	}
	return QueueItem{}, fmt.Errorf("show %q: no such record in %q", id, dir)
}

func readItem(dir, state, name string) (QueueItem, bool) {
	path := filepath.Join(dir, state, name)
	info, err := os.Lstat(path)
	if err != nil || !info.Mode().IsRegular() {
		return QueueItem{}, false
	}
	it := QueueItem{State: state, Name: name, Size: info.Size()}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return QueueItem{}, false
	}
	id := strings.TrimSuffix(name, ".json")
	switch {
	case err != nil:
		it.Err = err
	case state == StateCorrupt:
		// A corrupt name may carry a ".<nanoseconds>" suffix; decode what can be decoded.
		it.Entry, it.Err = decodeEntry(idPattern.FindString(id), data)
		if it.Err == nil {
			it.Err = errors.New("decodes now; moved aside at load")
		}
	default:
		it.Entry, it.Err = decodeEntry(id, data)
	}
	if it.Entry.ID == "" {
		it.Entry.ID = id
	}
	return it, true
}

// PurgeQueue deletes every file in deadletter/ (state StateDeadLetter) or corrupt/ (StateCorrupt)
// and returns how many it deleted. The running uploader only ever adds files there, by rename,
// so purging under it is safe: a record dead-lettered during the purge is deleted or kept whole.
// Pending records cannot be purged: nothing may delete a record Graph has not accepted.
func PurgeQueue(dir, state string) (int, error) {
	if state != StateDeadLetter && state != StateCorrupt {
		return 0, fmt.Errorf("purge: %q cannot be purged, only %s or %s", state, StateDeadLetter, StateCorrupt)
	}
	sub := filepath.Join(dir, state)
	ents, err := os.ReadDir(sub)
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", state, err)
	}
	n := 0
	var errs []error
	for _, de := range ents {
		if !de.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(sub, de.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if err := syncDir(sub); err != nil {
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}
