package main

import (
	"bufio"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// quickStart returns the commands of the README's "Quick start" section: every line of its
// ```sh blocks, without the comment, split into the environment assignments before the
// command and the command's words. The section's commands are simple words: no quoting.
func quickStart(t *testing.T) (cmds []readmeCommand) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	defer f.Close()
	comment := regexp.MustCompile(`\s+#.*$`)
	env := regexp.MustCompile(`^[A-Z_]+=\S*$`)
	section, block := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section = line == "## Quick start"
		case !section:
		case strings.HasPrefix(line, "```"):
			block = !block && line == "```sh"
		case block && strings.TrimSpace(line) != "":
			var c readmeCommand
			for _, w := range strings.Fields(comment.ReplaceAllString(line, "")) {
				if len(c.args) == 0 && env.MatchString(w) {
					c.env = append(c.env, w)
				} else {
					c.args = append(c.args, w)
				}
			}
			cmds = append(cmds, c)
		}
	}
	require.NoError(t, sc.Err())
	return cmds
}

type readmeCommand struct{ env, args []string }

func (c readmeCommand) String() string { return strings.Join(append(c.env, c.args...), " ") }

// logctlArgs returns the arguments of a `bin/logctl` command, or false.
func (c readmeCommand) logctlArgs() ([]string, bool) {
	if c.args[0] != "bin/logctl" {
		return nil, false
	}
	return c.args[1:], true
}

// The quick start cannot rot: every make command must dry-run (make -n), its make variables
// used by the Makefile and its environment variables read by `logctl dev`; every logctl
// command must parse (TestDevStack runs them).
func TestReadmeQuickStart(t *testing.T) {
	cmds := quickStart(t)
	require.GreaterOrEqual(t, len(cmds), 5, "no quick start commands found in README.md")
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	require.NoError(t, err)
	code, devHelp, stderr := exec(t, "", "dev", "--help")
	require.Equal(t, 0, code, stderr)
	var makes, logctls int
	for _, c := range cmds {
		t.Run(c.String(), func(t *testing.T) {
			if args, ok := c.logctlArgs(); ok {
				logctls++
				// --help after the arguments: cobra parses every flag first, so an unknown
				// command or flag still fails.
				code, _, stderr := exec(t, "", append(args, "--help")...)
				require.Equal(t, 0, code, stderr)
				require.Empty(t, stderr)
				return
			}
			require.Equal(t, "make", c.args[0], "the quick start shows only make and bin/logctl commands")
			makes++
			for _, a := range c.args[1:] {
				if name, _, ok := strings.Cut(a, "="); ok {
					require.True(t, strings.Contains(string(makefile), "$("+name+")"), "the Makefile does not use %s", name)
				}
			}
			for _, e := range c.env {
				name, _, _ := strings.Cut(e, "=")
				require.True(t, strings.Contains(devHelp, "(env "+name+")"), "logctl dev does not read %s", name)
			}
			cmd := osexec.Command("make", append([]string{"-n"}, c.args[1:]...)...)
			cmd.Dir = filepath.Join("..", "..")
			cmd.Env = append(os.Environ(), c.env...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "make -n: %s", out)
		})
	}
	require.Positive(t, makes)
	require.Positive(t, logctls)
}
