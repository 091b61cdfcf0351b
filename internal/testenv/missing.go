package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// PartialEnv names the variable that makes a run partial (see Missing).
const PartialEnv = "LOGCOLLECT_PARTIAL"

// Missing is what a test does when a server or tool it needs is not on this machine: every
// test that needs one comes here, so that none passes by skipping silently.
//
// A complete run (`make test`, CI) fails the test with err and how to get what is missing. A
// partial run skips it, and `make test`'s summary lists the skip with err as its reason. A run
// is partial under -short (`make test-short`), or with LOGCOLLECT_PARTIAL set to a true value
// (1, true, yes, on), which is ignored when CI is set to a true value: CI never runs partially.
func Missing(t testing.TB, err error) {
	t.Helper()
	if Partial() {
		t.Skipf("%v (partial run: %s)", err, partialWhy())
		return
	}
	hint := PartialEnv + "=1 skips the tests that need it"
	if EnvTrue("CI") {
		hint = "CI runs every test (" + PartialEnv + " is ignored there)"
	}
	t.Fatalf("%v\n`make setup` installs what the whole suite needs (`make test` runs it); %s", err, hint)
}

// skipShort skips the test under -short: every Start* of a real server (and BuildBinaries)
// calls it, so `make test-short` stays short without a testing.Short check in each test. why
// says what the test would have done: "starts a Kafka broker".
func skipShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip(why + " (-short)")
	}
}

// Partial reports whether this run may skip the tests whose server is missing (see Missing).
func Partial() bool {
	return testing.Short() || (EnvTrue(PartialEnv) && !EnvTrue("CI"))
}

func partialWhy() string {
	if testing.Short() {
		return "-short"
	}
	return PartialEnv
}

// EnvTrue reports whether the environment variable holds a true value: what strconv.ParseBool
// takes as true (1, t, T, TRUE, true, True), or yes, y or on in any case.
func EnvTrue(name string) bool {
	v := strings.TrimSpace(os.Getenv(name))
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	switch strings.ToLower(v) {
	case "yes", "y", "on":
		return true
	}
	return false
}

// Tool returns the path of the program name in PATH. When it is missing, the test goes
// through Missing, whose message names debianPackage, the package that brings it.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, fmt.Errorf("%w (Debian package %s: apt-get install %s)", err, debianPackage, debianPackage))
	}
	return p
}
