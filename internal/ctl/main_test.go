package ctl

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/logcollect/logcollect/internal/testenv"
)

// Every client the package makes is closed and every scrape and follow
// goroutine ends; the search nodes testenv.EachEngine shares are stopped
// before goleak looks.
func TestMain(m *testing.M) { goleak.VerifyTestMain(testenv.WithSharedSearchNodes(m)) }
