package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// module is the module path: the patterns below without a domain are relative to it.
const module = "github.com/logcollect/logcollect"

// Package patterns, as go list's: "x/..." is x and everything below it; a pattern without a
// dot in its first element is relative to the module, "..." alone is every package of it.
var (
	// testInfra exists for tests: real servers, fakes and helpers.
	testInfra = []string{
		"internal/testenv/...", "internal/servers/...", "internal/chaos/...", "internal/e2e/...",
		"internal/metricsref/...", "transfer/transfertest/...",
		"github.com/twmb/franz-go/pkg/kfake/...", "go.etcd.io/etcd/server/v3/...",
	}
	// devStack is `make run`, which runs the test servers on purpose.
	devStack = []string{"internal/devstack/...", "cmd/logcollect-dev"}
	// testServers are what the dev stack runs and logctl must not link.
	testServers = []string{
		"internal/devstack/...", "internal/servers/...", "internal/testenv/...",
		"github.com/twmb/franz-go/pkg/kfake/...", "go.etcd.io/etcd/server/v3/...",
	}
	// services are the parts with a job of their own.
	services = []string{"agent/...", "transfer/...", "sysmon/...", "internal/ctl/...", "internal/devstack/..."}
	// shared are the small packages the services meet through.
	shared = []string{
		"internal/config/...", "internal/kafkaclient/...", "internal/etcdclient/...", "internal/esclient/...",
		"internal/record/...", "internal/collect/...", "internal/retry/...", "internal/esindex/...", "metrics/...", "pipeline/...",
	}
	// hostLibs sample the host (sysmon) and write to InfluxDB.
	hostLibs = []string{"github.com/shirou/gopsutil/...", "github.com/influxdata/influxdb-client-go/..."}
	// tailLibs follow files (the agent).
	tailLibs = []string{"github.com/nxadm/tail/...", "github.com/fsnotify/fsnotify/..."}
)

// rule forbids pkgs, except except, to depend on forbidden.
type rule struct {
	name      string
	pkgs      []string // the packages the rule is about; at least one must exist
	forbidden []string // what they must not depend on, however indirectly
	except    []string // packages of pkgs the rule leaves out
	tests     bool     // the direct imports of their _test.go files too
}

var rules = []rule{
	{
		name:      "agent ↛ transfer",
		pkgs:      []string{"agent/..."},
		forbidden: []string{"transfer/..."},
		tests:     true, // the agent's tests neither: the pipeline's are in internal/e2e
	},
	{
		name:      "transfer ↛ agent",
		pkgs:      []string{"transfer/..."},
		forbidden: []string{"agent/..."},
	},
	{
		name:      "services ↛ sysmon",
		pkgs:      []string{"..."},
		forbidden: []string{"sysmon/..."},
		// logagent runs sysmon in-process; test infrastructure builds its metrics.
		except: concat([]string{"sysmon/...", "cmd/sysmon", "cmd/logagent", "bench/..."}, testInfra),
	},
	{
		name:      "logctl ↛ services",
		pkgs:      []string{"cmd/logctl", "internal/ctl/..."},
		forbidden: []string{"agent/...", "transfer/...", "sysmon/..."},
	},
	{
		name:      "no package ↛ cmd/",
		pkgs:      []string{"..."},
		forbidden: []string{"cmd/..."},
		tests:     true,
	},
	{
		name:      "production ↛ test infrastructure",
		pkgs:      []string{"..."},
		forbidden: testInfra,
		except:    concat(testInfra, devStack, []string{"bench/..."}),
	},
	{
		name:      "logctl ↛ dev stack",
		pkgs:      []string{"cmd/logctl", "internal/ctl/..."},
		forbidden: testServers,
	},
	{
		name:      "logtransfer ↛ host and tail libraries",
		pkgs:      []string{"cmd/logtransfer"},
		forbidden: concat(hostLibs, tailLibs),
	},
	{
		name:      "logctl ↛ host and tail libraries",
		pkgs:      []string{"cmd/logctl"},
		forbidden: concat(hostLibs, []string{"github.com/nxadm/tail/..."}),
	},
	{
		name:      "shared packages ↛ services",
		pkgs:      shared,
		forbidden: services,
	},
}

func TestLayout(t *testing.T) {
	g := loadGraph(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			var matched int
			var violations []string
			for _, p := range g.module {
				if !matchAny(r.pkgs, p) {
					continue
				}
				matched++
				if matchAny(r.except, p) {
					continue
				}
				violations = append(violations, g.violations(p, r)...)
			}
			if matched == 0 {
				t.Fatalf("rule %q is about no package: %v matches none", r.name, r.pkgs)
			}
			if len(violations) > 0 {
				t.Errorf("rule %q is broken: %d violation(s):\n\t%s", r.name, len(violations), strings.Join(violations, "\n\t"))
			}
		})
	}
}

// The checker itself: a forbidden import is found however deep, with its chain, and once; the
// patterns match as go list's do.
func TestChecker(t *testing.T) {
	// a → b → c → d, b → lib/sub1 and lib/sub2, a → fmt → f; a's tests import e.
	g := &graph{pkgs: map[string]*pkg{}}
	for path, imports := range map[string][]string{
		"a": {"b", "fmt"}, "b": {"c", "github.com/x/lib/sub1", "github.com/x/lib/sub2"}, "c": {"d"},
		"d": nil, "e": nil, "github.com/x/lib/sub1": nil, "github.com/x/lib/sub2": nil, "fmt": {"f"}, "f": nil,
	} {
		p := &pkg{ImportPath: expand(path), Standard: path == "fmt"}
		for _, i := range imports {
			p.Imports = append(p.Imports, expand(i))
		}
		g.pkgs[p.ImportPath] = p
	}
	a := g.pkgs[expand("a")]
	a.TestImports, a.XTestImports = []string{expand("d"), expand("e")}, []string{expand("a")}

	tests := []struct {
		name      string
		forbidden []string
		tests     bool
		want      []string
	}{
		{"direct", []string{"b"}, false, []string{"a imports b (directly)"}},
		{"chain", []string{"d/..."}, false, []string{"a imports d (via b → c)"}},
		{"the nearest only", []string{"c", "d"}, false, []string{"a imports c (via b)"}},
		{"one line a pattern", []string{"github.com/x/lib/..."}, false,
			[]string{"a imports github.com/x/lib/sub1 (via b), and 1 more of github.com/x/lib/..."}},
		{"a standard package", []string{"fmt"}, false, []string{"a imports fmt (directly)"}},
		{"not through the standard library", []string{"f"}, false, nil},
		{"not the tests", []string{"e"}, false, nil},
		{"the tests", []string{"e"}, true, []string{"a's tests import e"}},
		{"the tests, once", []string{"d", "e"}, true, []string{"a imports d (via b → c)", "a's tests import e"}},
		{"not itself", []string{"a"}, true, nil},
		{"none", []string{"z/..."}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := g.violations(expand("a"), rule{forbidden: tt.forbidden, tests: tt.tests})
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	for _, tt := range []struct {
		pattern, path string
		want          bool
	}{
		{"agent/...", module + "/agent", true},
		{"agent/...", module + "/agent/x", true},
		{"agent/...", module + "/agentx", false},
		{"agent", module + "/agent/x", false},
		{"...", module, true},
		{"...", module + "/cmd/logctl", true},
		{"...", "github.com/other/x", false},
		{"github.com/shirou/gopsutil/...", "github.com/shirou/gopsutil/v3/cpu", true},
	} {
		if got := match(tt.pattern, tt.path); got != tt.want {
			t.Errorf("match(%q, %q) = %t, want %t", tt.pattern, tt.path, got, tt.want)
		}
	}
}

// pkg is what go list says of a package.
type pkg struct {
	ImportPath                         string
	Imports, TestImports, XTestImports []string
	Standard                           bool
	Error                              *struct{ Err string }
	DepsErrors                         []*struct{ Err string }
}

// graph is the module's packages and everything they depend on, test files left out.
type graph struct {
	pkgs   map[string]*pkg // by import path
	module []string        // the module's own packages, sorted
}

// loadGraph lists the module's packages and their dependencies with one go list.
func loadGraph(t *testing.T) *graph {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "list", "-e", "-deps",
		"-json=ImportPath,Imports,TestImports,XTestImports,Standard,Error,DepsErrors", "./...")
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	g := &graph{pkgs: map[string]*pkg{}}
	seen := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := &pkg{}
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list: %v", err)
		}
		g.pkgs[p.ImportPath] = p
		if match("...", p.ImportPath) {
			g.module = append(g.module, p.ImportPath)
		}
		// A package that does not build (an import cycle, a missing package) fails the
		// test; the rules are still checked on what go list could read.
		errs := p.DepsErrors
		if p.Error != nil {
			errs = append(errs, p.Error)
		}
		for _, e := range errs {
			if !seen[e.Err] {
				seen[e.Err] = true
				t.Errorf("go list: %s", e.Err)
			}
		}
	}
	slices.Sort(g.module)
	if len(g.module) == 0 {
		t.Fatal("go list: no package of the module")
	}
	return g
}

// violations returns the violations of r by the package at path, one line for each
// forbidden pattern: the first package it reaches (the nearest), and how.
func (g *graph) violations(path string, r rule) []string {
	forbidden := func(p string) bool { return p != path && matchAny(r.forbidden, p) }
	hits := g.reach(g.pkgs[path].Imports, forbidden)
	var lines []string
	reported := map[string]bool{}
	for _, pat := range r.forbidden {
		var first []string
		n := 0
		for _, chain := range hits {
			if match(pat, chain[len(chain)-1]) {
				if first == nil {
					first = chain
				}
				n++
			}
		}
		if first == nil {
			continue
		}
		dep := first[len(first)-1]
		reported[dep] = true
		line := fmt.Sprintf("%s imports %s (directly)", short(path), short(dep))
		if len(first) > 1 {
			via := make([]string, len(first)-1)
			for i, p := range first[:len(first)-1] {
				via[i] = short(p)
			}
			line = fmt.Sprintf("%s imports %s (via %s)", short(path), short(dep), strings.Join(via, " → "))
		}
		if n > 1 {
			line += fmt.Sprintf(", and %d more of %s", n-1, pat)
		}
		lines = append(lines, line)
	}
	if r.tests {
		p := g.pkgs[path]
		for _, dep := range concat(p.TestImports, p.XTestImports) {
			if forbidden(dep) && !reported[dep] {
				reported[dep] = true
				lines = append(lines, fmt.Sprintf("%s's tests import %s", short(path), short(dep)))
			}
		}
	}
	return lines
}

// reach walks the imports breadth first from roots, not through the standard library nor
// through a forbidden package, and returns the chain (roots' import first) to each forbidden
// package it reaches, nearest first.
func (g *graph) reach(roots []string, forbidden func(string) bool) [][]string {
	parent := map[string]string{}
	var queue []string
	for _, r := range roots {
		if _, ok := parent[r]; !ok {
			parent[r] = ""
			queue = append(queue, r)
		}
	}
	var hits [][]string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if forbidden(p) {
			var chain []string
			for q := p; q != ""; q = parent[q] {
				chain = append(chain, q)
			}
			slices.Reverse(chain)
			hits = append(hits, chain)
			continue
		}
		n := g.pkgs[p]
		if n == nil || n.Standard {
			continue
		}
		for _, i := range n.Imports {
			if _, ok := parent[i]; !ok {
				parent[i] = p
				queue = append(queue, i)
			}
		}
	}
	return hits
}

// expand makes a module-relative pattern absolute.
func expand(pattern string) string {
	if pattern == "..." {
		return module + "/..."
	}
	first, _, _ := strings.Cut(pattern, "/")
	if strings.Contains(first, ".") {
		return pattern
	}
	return module + "/" + pattern
}

// match reports whether path matches pattern: the path itself, or with "/...", anything
// below it too.
func match(pattern, path string) bool {
	pattern = expand(pattern)
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == dir || strings.HasPrefix(path, dir+"/")
	}
	return path == pattern
}

func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(pat string) bool { return match(pat, path) })
}

// short is a path without the module's prefix.
func short(path string) string {
	if rel, ok := strings.CutPrefix(path, module+"/"); ok {
		return rel
	}
	return path
}

func concat(lists ...[]string) []string { return slices.Concat(lists...) }
