//go:build !linux

package agent

import (
	"os"
	"syscall"
)

// openNonBlocking opens path read-only with O_NONBLOCK and O_NOCTTY, with
// O_NOFOLLOW (last element only) when nofollow; see the Linux version, which
// also refuses symlinks on the directories of the path.
func openNonBlocking(path string, nofollow bool) (*os.File, error) {
	flags := syscall.O_RDONLY | syscall.O_CLOEXEC | syscall.O_NONBLOCK | syscall.O_NOCTTY
	if nofollow {
		flags |= syscall.O_NOFOLLOW
	}
	fd, err := syscall.Open(path, flags, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
