package agent

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// A resolved path is opened without following any symlink: not the last
// element (a log replaced by a link to a secret), not a directory (a log
// directory replaced by a link to /etc) after the policy check. Both ways
// are tried: openat2 with RESOLVE_NO_SYMLINKS, and the fallback for kernels
// without it (O_NOFOLLOW, then where the descriptor really is). A FIFO is
// refused without waiting for a writer.
func TestOpenLogFileFollowsNoSymlink(t *testing.T) {
	logs, secret := policyDirs(t)
	regular := filepath.Join(logs, "good.log")
	appendLines(t, regular, 0, 1)
	require.NoError(t, os.Symlink(secret, filepath.Join(logs, "link.log")))
	require.NoError(t, os.Symlink(filepath.Dir(secret), filepath.Join(logs, "dirlink")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(logs, "fifo.log"), 0o644))

	opens := []struct {
		name string
		open func(string) (*os.File, error)
	}{
		{"openLogFile", func(p string) (*os.File, error) { return openLogFile(p, true) }},
		{"fallback", func(p string) (*os.File, error) {
			return openNoFollowFallback(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY)
		}},
	}
	const loop = "too many levels of symbolic links" // ELOOP: O_NOFOLLOW, RESOLVE_NO_SYMLINKS
	tests := []struct {
		name, path string
		wantErr    map[string]string // by open; none: it opens
	}{
		{name: "regular file", path: regular},
		{name: "symlink to a secret", path: filepath.Join(logs, "link.log"), wantErr: map[string]string{"openLogFile": loop, "fallback": loop}},
		{name: "file in a symlinked directory", path: filepath.Join(logs, "dirlink", "shadow"), wantErr: map[string]string{
			"openLogFile": loop, "fallback": "opened " + secret + " instead (a symlink on the path)",
		}},
	}
	for _, o := range opens {
		for _, tt := range tests {
			t.Run(o.name+"/"+tt.name, func(t *testing.T) {
				f, err := o.open(tt.path)
				if want := tt.wantErr[o.name]; want != "" {
					require.ErrorContains(t, err, want)
					return
				}
				require.NoError(t, err)
				defer f.Close()
				b := make([]byte, 4)
				_, err = f.Read(b)
				require.NoError(t, err)
				require.Equal(t, "line", string(b))
			})
		}
	}
	_, err := openLogFile(filepath.Join(logs, "fifo.log"), true)
	require.ErrorIs(t, err, errNotRegular)
	_, err = openLogFile(filepath.Join(logs, "fifo.log"), false)
	require.ErrorIs(t, err, errNotRegular)
}
