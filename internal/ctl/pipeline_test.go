package ctl

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPipelineTestRun(t *testing.T) {
	config := filepath.Join(t.TempDir(), "logtransfer.yaml")
	require.NoError(t, os.WriteFile(config, []byte(`pipelines:
  - name: web
    topics: [web_log]
    processors:
      - drop: {if: 'message contains "/healthz"'}
      - rename: {fields: {status: http.response.status_code}, if: 'status != nil'}
`), 0o644))
	now := time.Date(2026, 12, 7, 10, 0, 0, 5e8, time.UTC)
	pt := PipelineTest{Config: config, Pipeline: "web", Now: func() time.Time { return now }, Verbose: true}
	var out, errOut bytes.Buffer
	in := "GET / 200\nGET /healthz 200\n\"quoted\" \xff line\n"
	res, err := pt.Run(strings.NewReader(in), &out, &errOut)
	require.NoError(t, err)
	require.Equal(t, PipelineTestResult{Lines: 3, Dropped: 1}, res)
	require.Equal(t, `{"@timestamp":"2026-12-07T10:00:00.5Z","event":{"ingested":"2026-12-07T10:00:00.5Z"},"message":"GET / 200"}`+"\n"+
		`{"@timestamp":"2026-12-07T10:00:00.5Z","event":{"ingested":"2026-12-07T10:00:00.5Z"},"message":"\"quoted\" \\xff line"}`+"\n",
		out.String(), "invalid UTF-8 as logagent writes it (\\xff)")
	require.Equal(t, "line 2: dropped\n", errOut.String())

	out.Reset()
	errOut.Reset()
	pt.Records, pt.Verbose = true, false
	res, err = pt.Run(strings.NewReader(`{"@timestamp":"2026-12-07T09:00:00Z","message":"x","status":503}`+"\n"+`{"message":"/healthz"}`+"\n"), &out, &errOut)
	require.NoError(t, err)
	require.Equal(t, PipelineTestResult{Lines: 2, Dropped: 1}, res)
	require.Equal(t, `{"@timestamp":"2026-12-07T09:00:00Z","event":{"ingested":"2026-12-07T09:00:00Z"},"http":{"response":{"status_code":503}},"message":"x"}`+"\n", out.String())
	require.Empty(t, errOut.String(), "dropped lines are quiet without Verbose")

	_, err = pt.Run(strings.NewReader(strings.Repeat("x", maxLineBytes+1)), &out, &errOut)
	require.ErrorContains(t, err, "line 1: bufio.Scanner: token too long")
}
