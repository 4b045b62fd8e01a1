package uploader

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LockedError says the spool belongs to another running process. Two agents sharing a spool
// would each send every record and clean each other's temp files.
type LockedError struct {
	Dir string
	PID int // of the holder, 0 when it could not be read
}

func (e *LockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "another tdq-agent (pid " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("spool %q is in use by %s; two agents cannot share a spool: stop the other one or give this one its own uploader.spool_dir", e.Dir, holder)
}

// lockSpool takes the spool's lock file, waiting up to wait for a holder to let go, and writes
// our pid into it for the error message of whoever comes next. The lock is the OS's (flock,
// LockFileEx), not the file's existence, so a killed agent leaves nothing stale; for the same
// reason the file is never removed.
func lockSpool(dir string, wait time.Duration) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open spool lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		held, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock spool %q: %w", dir, err)
		}
		if held {
			break
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, &LockedError{Dir: dir, PID: lockHolder(dir)}
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The pid is only a hint for messages; failing to write it changes nothing about the lock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// lockHolder reads the pid the lock's holder wrote, or 0.
func lockHolder(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, lockFile))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
