package ctl

import (
	"testing"

	"go.uber.org/goleak"
)

// Every client the package makes is closed and every scrape and follow
// goroutine ends.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
