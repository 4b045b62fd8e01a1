package uploader

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// writeDurable makes dstDir/name hold data or leaves it as it was, even across a power cut: the
// bytes go to a temp file in tmpDir (same filesystem, so the rename is atomic), are fsynced,
// renamed over the target, and the target directory is fsynced so the rename itself survives.
func writeDurable(tmpDir, dstDir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(tmpDir, name+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temp file for %q: %w", name, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %q: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("fsync %q: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %q: %w", tmp, err)
	}
	if err = os.Rename(tmp, filepath.Join(dstDir, name)); err != nil {
		return fmt.Errorf("rename into %q: %w", dstDir, err)
	}
	return syncDir(dstDir)
}

// moveDurable renames a file between directories of the same filesystem and makes both
// directory entries durable.
func moveDurable(srcDir, dstDir, name, dstName string) error {
	if err := os.Rename(filepath.Join(srcDir, name), filepath.Join(dstDir, dstName)); err != nil {
		return fmt.Errorf("move %q to %q: %w", name, dstDir, err)
	}
	if err := syncDir(dstDir); err != nil {
		return err
	}
	return syncDir(srcDir)
}

// syncDir fsyncs a directory so renames and removals in it survive a crash. Windows cannot open
// a directory for syncing, and NTFS journals the metadata anyway, so there it does nothing.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %q for fsync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %q: %w", dir, err)
	}
	return nil
}
