// Package sample is what testreport's test runs `go test -json` on: one test of each outcome.
package sample

import "testing"

func TestPass(t *testing.T) { t.Log("not shown: the test passed") }

func TestSkip(t *testing.T) {
	t.Log("logged before the skip")
	t.Skip("no server here")
}

func TestFail(t *testing.T) {
	t.Run("sub", func(t *testing.T) { t.Error("the failure's message") })
	t.Run("ok", func(t *testing.T) {})
}
