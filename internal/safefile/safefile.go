package safefile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data: it writes a temporary file in the same
// directory with mode perm, syncs it, renames it over path and syncs the
// directory.
func Write(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, nil)
}

// WriteOwned is Write giving the file the owner and group of ref (the
// file it replaces, or its directory) when the process runs as root, so
// files an administrator edits stay readable by the service user that
// owns them. Elsewhere, and on Windows, the file is the writer's.
func WriteOwned(path string, data []byte, perm os.FileMode, ref os.FileInfo) error {
	return write(path, data, perm, ref)
}

func write(path string, data []byte, perm os.FileMode, ref os.FileInfo) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after the rename
	if err := fill(tmp, data, perm, ref); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, bare(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, bare(err))
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, bare(err))
	}
	syncDir(dir)
	return nil
}

// bare drops the operation and file names a path or link error carries
// (the temporary file's, which means nothing to the user) and keeps its
// cause, so that errors.Is still sees the errno.
func bare(err error) error {
	switch e := err.(type) {
	case *fs.PathError:
		return e.Err
	case *os.LinkError:
		return e.Err
	}
	return err
}

// fill sets the temporary file's owner and mode through its descriptor,
// then writes and syncs data.
func fill(f *os.File, data []byte, perm os.FileMode, ref os.FileInfo) error {
	if ref != nil {
		if err := chownLike(f, ref); err != nil {
			return fmt.Errorf("keeping the owner: %w", err)
		}
	}
	if err := setPerm(f, perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}
