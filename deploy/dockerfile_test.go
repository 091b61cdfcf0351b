package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dockerStage is one FROM … stage of a Dockerfile: its base image and its
// instructions (continuation lines joined).
type dockerStage struct {
	from, name string
	lines      []string // "INSTRUCTION args", instruction upper-cased
}

// parseDockerfile reads the stages and the global ARG defaults.
func parseDockerfile(t *testing.T, file string) (stages []*dockerStage, args map[string]string) {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	args = map[string]string{}
	var cur *dockerStage
	var pending string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, pending = pending+line, ""
		instr, rest, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		switch {
		case instr == "FROM":
			f := strings.Fields(rest)
			cur = &dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				cur.name = f[2]
			}
			stages = append(stages, cur)
		case cur == nil && instr == "ARG":
			name, def, _ := strings.Cut(rest, "=")
			args[name] = def
		case cur != nil:
			cur.lines = append(cur.lines, instr+" "+rest)
		}
	}
	require.NoError(t, sc.Err())
	return stages, args
}

// devOnly are the binaries of cmd/ the image leaves out: logcollect-dev runs the local
// stack of `make run` and links the test servers.
var devOnly = []string{"logcollect-dev"}

// commands lists the binaries: the directories of cmd/ with a main.go (`make build` builds
// ./cmd/..., which skips a directory without Go files).
func commands(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("../cmd")
	require.NoError(t, err)
	var cmds []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join("..", "cmd", e.Name(), "main.go")); e.IsDir() && err == nil {
			cmds = append(cmds, e.Name())
		}
	}
	require.NotEmpty(t, cmds)
	return cmds
}

func TestDockerfile(t *testing.T) {
	stages, args := parseDockerfile(t, "../Dockerfile")
	require.GreaterOrEqual(t, len(stages), 2, "multi-stage: a builder and a runtime stage")
	build, runtime := stages[0], stages[len(stages)-1]

	// The builder's Go is the one go.mod asks for.
	image := os.Expand(build.from, func(k string) string { return args[k] })
	require.Regexp(t, `^golang:\d+\.\d+`, image)
	goMod, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	want := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)
	require.NotNil(t, want, "go directive in go.mod")
	require.True(t, strings.HasPrefix(strings.TrimPrefix(image, "golang:"), string(want[1])),
		"builder %s, go.mod wants go %s", image, want[1])

	// The binaries are built as `make build` builds them: version-stamped.
	buildSteps := strings.Join(build.lines, "\n")
	require.Contains(t, buildSteps, "make build VERSION=")
	require.Contains(t, buildSteps, "CGO_ENABLED=0", "alpine has musl: the binaries must be static")

	// Every binary of cmd/ but the developer's ones is built (make build CMDS=, which
	// otherwise builds them all) and in the runtime image; those are neither.
	var copied []string
	for _, l := range runtime.lines {
		if strings.HasPrefix(l, "COPY --from="+build.name+" ") {
			copied = append(copied, strings.Fields(l)[2:]...)
		}
	}
	m := regexp.MustCompile(`CMDS="([^"]*)"`).FindStringSubmatch(buildSteps)
	require.NotNil(t, m, `make build CMDS="./cmd/…": without it the image builds the developer's tools too`)
	built := strings.Fields(m[1])
	var shipped []string
	for _, cmd := range commands(t) {
		if slices.Contains(devOnly, cmd) {
			require.NotContainsf(t, copied, "/src/bin/"+cmd, "the runtime stage copies %s, a developer's tool", cmd)
			require.NotContainsf(t, built, "./cmd/"+cmd, "the image builds %s, a developer's tool", cmd)
			continue
		}
		require.Containsf(t, copied, "/src/bin/"+cmd, "the runtime stage does not copy %s", cmd)
		shipped = append(shipped, "./cmd/"+cmd)
	}
	require.ElementsMatch(t, shipped, built, "make build CMDS= in the Dockerfile")

	var user string
	var exposed []int
	for _, l := range runtime.lines {
		instr, rest, _ := strings.Cut(l, " ")
		switch instr {
		case "USER":
			user = rest
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				n, err := strconv.Atoi(p)
				require.NoError(t, err)
				exposed = append(exposed, n)
			}
		}
	}
	u, _, _ := strings.Cut(user, ":")
	require.NotContains(t, []string{"", "0", "root"}, u, "the runtime stage must run as a non-root USER")
	var ports []int
	for _, b := range binaries {
		ports = append(ports, b.defaultPort)
	}
	slices.Sort(ports)
	slices.Sort(exposed)
	require.Equal(t, ports, exposed, "EXPOSE the metrics ports")
}

// dockerignore is the subset of .dockerignore syntax the file may use:
// patterns relative to the context root, optionally starting with **/; no
// exceptions (!). A matching directory excludes everything below it.
type dockerignore []string

func readDockerignore(t *testing.T) dockerignore {
	t.Helper()
	data, err := os.ReadFile("../.dockerignore")
	require.NoError(t, err)
	var d dockerignore
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		require.Falsef(t, strings.HasPrefix(line, "!"), "exception %q: the test's matcher does not handle it", line)
		_, err := path.Match(strings.TrimPrefix(line, "**/"), "")
		require.NoError(t, err, line)
		d = append(d, path.Clean(strings.TrimPrefix(line, "/")))
	}
	return d
}

// ignored reports whether the slash-separated path rel, relative to the
// context, is left out of the build context.
func (d dockerignore) ignored(rel string) bool {
	parts := strings.Split(rel, "/")
	for _, p := range d {
		for i := 1; i <= len(parts); i++ {
			prefix := strings.Join(parts[:i], "/")
			if ok, _ := path.Match(p, prefix); ok {
				return true
			}
			if rest, ok := strings.CutPrefix(p, "**/"); ok {
				for j := 0; j < i; j++ {
					if ok, _ := path.Match(rest, strings.Join(parts[j:i], "/")); ok {
						return true
					}
				}
			}
		}
	}
	return false
}

// TestDockerignoreKeepsTheBuild checks that every file `make build`
// compiles is in the build context, and that the matcher does exclude.
func TestDockerignoreKeepsTheBuild(t *testing.T) {
	d := readDockerignore(t)
	for _, p := range []string{".git/HEAD", "bin/logagent", "agent/agent.test", "agent/testdata/agent.yaml", "deploy/config/agent.yaml"} {
		require.Truef(t, d.ignored(p), "%s should be left out of the context", p)
	}
	for _, p := range []string{"go.mod", "go.sum", "Makefile"} {
		require.Falsef(t, d.ignored(p), "%s is needed by the build", p)
	}

	out, err := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}`,
		"../cmd/...").CombinedOutput()
	require.NoError(t, err, "%s", out)
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	files := strings.Fields(string(out))
	require.NotEmpty(t, files)
	for _, f := range files {
		rel, err := filepath.Rel(root, f)
		require.NoError(t, err)
		require.Falsef(t, d.ignored(filepath.ToSlash(rel)), ".dockerignore leaves out %s, which the binaries are built from", rel)
	}
}
