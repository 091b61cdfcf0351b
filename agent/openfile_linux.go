package agent

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// openNonBlocking opens path read-only with O_NONBLOCK and O_NOCTTY and
// returns it in blocking mode (reads of a regular file never block anyway;
// a non-blocking descriptor would be handed to Go's poller).
//
// With nofollow, it uses openat2 with RESOLVE_NO_SYMLINKS (Linux 5.6): the
// kernel refuses a symlink on any element of the path, so the file opened
// is the one at the resolved path that was checked, with no window for a
// swap. Where openat2 is missing (older kernels, a seccomp filter that
// refuses it), it opens with O_NOFOLLOW, which covers the last element
// only, and then asks the kernel where the descriptor is
// (/proc/self/fd/N): a different path means a directory was swapped for a
// symlink in between, and the file is closed unread.
func openNonBlocking(path string, nofollow bool) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY
	var fd int
	var err error
	switch {
	case !nofollow:
		fd, err = unix.Open(path, flags, 0)
	default:
		fd, err = unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
			Flags:   uint64(flags),
			Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.E2BIG) {
			return openNoFollowFallback(path, flags)
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return newBlockingFile(fd, path)
}

func openNoFollowFallback(path string, flags int) (*os.File, error) {
	fd, err := unix.Open(path, flags|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	at, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || at != path {
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("open %s: cannot check where the file is: %w", path, err)
		}
		return nil, fmt.Errorf("open %s: opened %s instead (a symlink on the path)", path, at)
	}
	return newBlockingFile(fd, path)
}

func newBlockingFile(fd int, path string) (*os.File, error) {
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
