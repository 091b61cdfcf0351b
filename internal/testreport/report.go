package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action      string
	Package     string
	ImportPath  string // build-output and build-fail
	Test        string
	Output      string
	FailedBuild string
}

type testKey struct{ pkg, test string }

// outcome is a test that did not pass: its package, name and, for a skip, the reason.
type outcome struct {
	pkg, test, reason string
}

// report turns events into the human output as they arrive and keeps the counts.
type report struct {
	out io.Writer
	// open holds the output of each test that has started and not ended yet, in order.
	open    map[testKey][]string
	pkgOut  map[string][]string // a package's own output (not a test's)
	pkgFail map[string]bool     // packages with a failed test
	passed  int
	failed  []outcome
	skipped []outcome
}

func newReport(out io.Writer) *report {
	return &report{out: out, open: map[testKey][]string{}, pkgOut: map[string][]string{}, pkgFail: map[string]bool{}}
}

// run reads go test -json from in and writes the report to out.
func run(in io.Reader, out io.Writer) error {
	// Unbuffered: a suite runs for minutes, and each package's line shows when it ends.
	r := newReport(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			// Not an event (go test's own messages when its stderr is merged): pass it on.
			fmt.Fprintf(out, "%s\n", line)
			continue
		}
		r.add(ev)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read go test -json: %w", err)
	}
	r.finish()
	return nil
}

func (r *report) add(ev event) {
	if ev.Action == "build-output" {
		io.WriteString(r.out, ev.Output)
		return
	}
	if ev.Test == "" {
		r.addPackage(ev)
		return
	}
	k := testKey{ev.Package, ev.Test}
	switch ev.Action {
	case "run":
		r.open[k] = nil
	case "output":
		r.open[k] = append(r.open[k], ev.Output)
	case "pass":
		r.passed++
		delete(r.open, k)
	case "skip":
		r.skipped = append(r.skipped, outcome{ev.Package, ev.Test, skipReason(r.open[k])})
		delete(r.open, k)
	case "fail":
		r.testFailed(k)
	}
}

func (r *report) testFailed(k testKey) {
	r.failed = append(r.failed, outcome{pkg: k.pkg, test: k.test})
	r.pkgFail[k.pkg] = true
	r.printTestOutput(r.open[k])
	delete(r.open, k)
}

func (r *report) addPackage(ev event) {
	switch ev.Action {
	case "output":
		r.pkgOut[ev.Package] = append(r.pkgOut[ev.Package], ev.Output)
		return
	case "pass", "skip", "fail":
	default:
		return
	}
	if ev.Action == "fail" {
		// Tests still open when their package failed were cut short (a timeout, a panic, an
		// exit): they failed, and their output holds why.
		for _, k := range r.openTests(ev.Package) {
			r.testFailed(k)
		}
		if !r.pkgFail[ev.Package] {
			// Failed outside any test: a build error, TestMain, a leak check after the tests.
			what := "(package)"
			if ev.FailedBuild != "" {
				what = "(build failed)"
			}
			r.failed = append(r.failed, outcome{pkg: ev.Package, test: what})
		}
	}
	for _, l := range r.pkgOut[ev.Package] {
		if l != "PASS\n" {
			io.WriteString(r.out, l)
		}
	}
	delete(r.pkgOut, ev.Package)
	delete(r.pkgFail, ev.Package)
}

// openTests returns the tests of pkg (of every package if pkg is "") that have not ended,
// sorted, parents before their subtests.
func (r *report) openTests(pkg string) []testKey {
	var ks []testKey
	for k := range r.open {
		if pkg == "" || k.pkg == pkg {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b testKey) int {
		return cmp.Or(strings.Compare(a.pkg, b.pkg), strings.Compare(a.test, b.test))
	})
	return ks
}

// printTestOutput prints a failed test's output as go test without -v does: without the
// === lines that -json adds.
func (r *report) printTestOutput(lines []string) {
	for _, l := range lines {
		if !strings.HasPrefix(l, "=== ") {
			io.WriteString(r.out, l)
		}
	}
}

// logLine is the start of a t.Log/t.Skip message: "    file_test.go:12: text".
var logLine = regexp.MustCompile(`^\s+\S+\.go:\d+: `)

// skipReason is the last message a skipped test logged (t.Skip's, with its continuation
// lines), without its file:line prefix.
func skipReason(lines []string) string {
	var msg []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "=== "), strings.HasPrefix(l, "--- "):
		case logLine.MatchString(l):
			msg = []string{strings.TrimSpace(logLine.ReplaceAllString(l, ""))}
		case msg != nil:
			msg = append(msg, strings.TrimSpace(l))
		}
	}
	if msg == nil {
		return "no reason given"
	}
	return strings.Join(msg, " ")
}

// finish prints the failed and skipped tests and the closing line.
func (r *report) finish() {
	// Anything still open never ended: the stream was cut (go test killed).
	for _, k := range r.openTests("") {
		r.testFailed(k)
	}
	if len(r.skipped) > 0 {
		fmt.Fprintf(r.out, "\nskipped tests (%d):\n", len(r.skipped))
		for _, s := range r.skipped {
			fmt.Fprintf(r.out, "  %s %s: %s\n", s.pkg, s.test, s.reason)
		}
	}
	if len(r.failed) > 0 {
		fmt.Fprintf(r.out, "\nfailed tests (%d):\n", len(r.failed))
		for _, f := range r.failed {
			fmt.Fprintf(r.out, "  %s %s\n", f.pkg, f.test)
		}
	}
	fmt.Fprintf(r.out, "\ntests: %d passed, %d failed, %d skipped\n", r.passed, len(r.failed), len(r.skipped))
}
