package testenv

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// ReadmeCommand is one command of the README's quick start: the environment assignments
// before it and its words.
type ReadmeCommand struct{ Env, Args []string }

func (c ReadmeCommand) String() string { return strings.Join(append(c.Env, c.Args...), " ") }

// LogctlArgs returns the arguments of a `bin/logctl` command, or false.
func (c ReadmeCommand) LogctlArgs() ([]string, bool) {
	if c.Args[0] != "bin/logctl" {
		return nil, false
	}
	return c.Args[1:], true
}

// QuickStart returns the commands of the README's "Quick start" section: every line of its
// ```sh blocks, without the comment, split into the environment assignments before the
// command and the command's words. The section's commands are simple words: no quoting.
// cmd/logctl checks that they parse and dry-run; cmd/logcollect-dev runs the logctl ones
// against the stack of `make run` and checks that it reads their environment.
func QuickStart(t testing.TB) (cmds []ReadmeCommand) {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate the module root")
	}
	f, err := os.Open(filepath.Join(filepath.Dir(self), "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
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
			var c ReadmeCommand
			for _, w := range strings.Fields(comment.ReplaceAllString(line, "")) {
				if len(c.Args) == 0 && env.MatchString(w) {
					c.Env = append(c.Env, w)
				} else {
					c.Args = append(c.Args, w)
				}
			}
			cmds = append(cmds, c)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cmds
}
