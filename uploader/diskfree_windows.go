//go:build windows

package uploader

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// diskFree returns the bytes the calling user may still write on dir's volume (quotas included).
func diskFree(dir string) (int64, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, fmt.Errorf("disk free space of %q: %w", dir, err)
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
		return 0, fmt.Errorf("disk free space of %q: %w", dir, err)
	}
	return int64(avail), nil
}
