package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/logcollect/logcollect/internal/collect"
)

// policyError says why a file of a task from etcd is not read: with its
// symlinks resolved, it is outside files.allowed_paths.
type policyError struct {
	real, rule string
}

func (e *policyError) Error() string {
	return fmt.Sprintf("resolves to %q, outside %s", e.real, e.rule)
}

// statLogFile stats p, a path a task's glob matched, following symlinks.
// Under a policy (the task came from etcd) it also resolves p's symlinks
// and returns a *policyError when the file they lead to is not allowed;
// real is then the resolved path, the one to open (openLogFile with
// nofollow), else p.
func statLogFile(p string, pol *collect.Policy) (real string, fi fs.FileInfo, err error) {
	if fi, err = os.Stat(p); err != nil {
		return "", nil, err
	}
	if pol == nil {
		return p, fi, nil
	}
	if real, err = filepath.EvalSymlinks(p); err != nil {
		return "", nil, err
	}
	if !pol.AllowsFile(real) {
		return "", nil, &policyError{real: real, rule: pol.PathRule()}
	}
	return real, fi, nil
}

// errNotRegular is returned by openLogFile for a path that is not a regular
// file once opened: a device, FIFO or socket is never read.
var errNotRegular = errors.New("not a regular file")

// openLogFile opens the file at path for reading, and only if it is a
// regular file. It opens without blocking (a FIFO put under the name since
// it was statted would wait for a writer) and without making a terminal the
// controlling one, then checks the type on the descriptor.
//
// nofollow is for paths resolved by statLogFile and checked against the
// policy: no symlink may then be followed anywhere on the path, so that a
// symlink swapped in after the check (a directory of /var/log replaced by a
// link to /etc) cannot lead the open elsewhere; see openNoFollow.
func openLogFile(path string, nofollow bool) (*os.File, error) {
	f, err := openNonBlocking(path, nofollow)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s: %w (%s)", path, errNotRegular, fi.Mode().Type())
	}
	return f, nil
}
