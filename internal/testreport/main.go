// Command testreport reads `go test -json` on stdin and prints what a plain `go test` prints
// (an ok or FAIL line per package, the output of failed tests, build errors), then the tests
// that were skipped, each with its reason, and one closing line:
//
//	tests: 1234 passed, 0 failed, 3 skipped
//
// Why it exists: `make test` must never pass by skipping without saying so. A plain `go test`
// shows a skipped test only under -v, among thousands of lines; this prints the skips where
// they cannot be missed, and counts them.
//
// It is the reading end of a pipe (`set -o pipefail; go test -json ./... | go run
// ./internal/testreport`), so the exit status stays go test's: testreport exits 0 whatever
// the tests did, and non-zero only when it cannot read its input.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
}
