package transfer

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/logcollect/logcollect/internal/testenv"
)

// The search nodes testenv.EachEngine shares are stopped before goleak looks.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(testenv.WithSharedSearchNodes(m))
}
