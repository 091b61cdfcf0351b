package testenv

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that records how the test would have ended.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *recorder) Skipf(format string, a ...any)  { r.skip = fmt.Sprintf(format, a...) }

func TestMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("checks a complete run's policy: -short makes every run partial")
	}
	for _, tc := range []struct {
		name, partial, ci string
		wantSkip          bool
	}{
		{"complete run", "", "", false},
		{"LOGCOLLECT_PARTIAL=1", "1", "", true},
		{"LOGCOLLECT_PARTIAL=yes", "yes", "", true},
		{"LOGCOLLECT_PARTIAL=ON", "ON", "", true},
		{"LOGCOLLECT_PARTIAL=0", "0", "", false},
		{"LOGCOLLECT_PARTIAL=nonsense", "nonsense", "", false},
		{"CI=true overrides LOGCOLLECT_PARTIAL", "1", "true", false},
		{"CI=1 overrides it too", "true", "1", false},
		{"CI=yes overrides it too", "1", "yes", false},
		{"CI=false does not", "1", "false", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(PartialEnv, tc.partial)
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			Missing(r, errors.New("kafka: no Kafka 4.4.0 jars in /x: run `bash internal/servers/kafka/fetch.sh`"))
			if tc.wantSkip {
				require.Empty(t, r.fatal)
				require.Contains(t, r.skip, "no Kafka 4.4.0 jars")
				require.Contains(t, r.skip, "partial run: LOGCOLLECT_PARTIAL")
				return
			}
			require.Empty(t, r.skip)
			require.Contains(t, r.fatal, "no Kafka 4.4.0 jars in /x: run `bash internal/servers/kafka/fetch.sh`")
			require.Contains(t, r.fatal, "`make setup` installs")
		})
	}
}

func TestToolNamesThePackage(t *testing.T) {
	t.Setenv(PartialEnv, "")
	t.Setenv("PATH", t.TempDir())
	r := &recorder{TB: t}
	Tool(r, "promtool", "prometheus")
	if testing.Short() {
		require.Contains(t, r.skip, "apt-get install prometheus")
		return
	}
	require.Contains(t, r.fatal, `"promtool": executable file not found`)
	require.Contains(t, r.fatal, "apt-get install prometheus")
}
