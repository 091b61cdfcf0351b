package main

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// The quick start cannot rot: every make command must dry-run (make -n) and its make
// variables be used by the Makefile; every logctl command must parse. cmd/logcollect-dev
// checks that `make run` reads the environment variables the section gives it, and
// TestDevStack there runs the logctl commands against the stack.
func TestReadmeQuickStart(t *testing.T) {
	cmds := testenv.QuickStart(t)
	require.GreaterOrEqual(t, len(cmds), 5, "no quick start commands found in README.md")
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	require.NoError(t, err)
	var makes, logctls int
	for _, c := range cmds {
		t.Run(c.String(), func(t *testing.T) {
			if args, ok := c.LogctlArgs(); ok {
				logctls++
				// --help after the arguments: cobra parses every flag first, so an unknown
				// command or flag still fails.
				code, _, stderr := exec(t, "", append(args, "--help")...)
				require.Equal(t, 0, code, stderr)
				require.Empty(t, stderr)
				return
			}
			require.Equal(t, "make", c.Args[0], "the quick start shows only make and bin/logctl commands")
			makes++
			for _, a := range c.Args[1:] {
				if name, _, ok := strings.Cut(a, "="); ok {
					require.True(t, strings.Contains(string(makefile), "$("+name+")"), "the Makefile does not use %s", name)
				}
			}
			cmd := osexec.Command("make", append([]string{"-n"}, c.Args[1:]...)...)
			cmd.Dir = filepath.Join("..", "..")
			cmd.Env = append(os.Environ(), c.Env...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "make -n: %s", out)
		})
	}
	require.Positive(t, makes)
	require.Positive(t, logctls)
}

// logctl has no dev command: `make run` is cmd/logcollect-dev, so that logctl links no test
// servers (internal/layout checks the imports).
func TestNoDevCommand(t *testing.T) {
	code, _, stderr := exec(t, "", "dev", "--help")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `unknown command "dev"`)
}
