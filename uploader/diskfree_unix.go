//go:build !windows

package uploader

import (
	"fmt"
	"syscall"
)

// diskFree returns the bytes an unprivileged process may still write on dir's filesystem.
func diskFree(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %q: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
