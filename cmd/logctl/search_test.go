package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// indexLine indexes one line as logtransfer does (index {topic}-{date}, id
// {topic}-{partition}-{offset}, the agent's fields plus kafka) and refreshes.
func indexLine(t *testing.T, es *elastic.Client, offset int, ts time.Time, host, msg string) {
	t.Helper()
	_, err := es.Index().Index("web_log-" + ts.UTC().Format("2006.01.02")).Id(fmt.Sprintf("web_log-0-%d", offset)).
		BodyJson(map[string]any{
			"@timestamp": ts.UTC().Format(time.RFC3339Nano), "message": msg,
			"host":  map[string]any{"name": host, "ip": "10.0.0.7"},
			"log":   map[string]any{"file": map[string]any{"path": "/var/log/nginx/access.log"}, "offset": offset * 100},
			"kafka": map[string]any{"topic": "web_log", "partition": 0, "offset": offset},
		}).Refresh("true").Do(context.Background())
	require.NoError(t, err)
}

// The search flags reach the query, and -f follows until SIGINT, then
// exits 0.
func TestSearchCommand(t *testing.T) {
	node := testenv.StartElasticsearch(t)
	es := node.Client(t)
	_, err := es.IndexPutTemplate("logtransfer").BodyString(`{"index_patterns":["web_log-*"],"settings":{"number_of_replicas":0},
		"mappings":{"properties":{"@timestamp":{"type":"date"},"host":{"properties":{"name":{"type":"keyword"},"ip":{"type":"keyword"}}},
		"log":{"properties":{"file":{"properties":{"path":{"type":"keyword"}}}}},"kafka":{"properties":{"topic":{"type":"keyword"}}}}}}`).
		Do(context.Background())
	require.NoError(t, err)
	t.Setenv("LOGCTL_ES", node.URL())

	old := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Millisecond) // outside the default --since 15m
	recent := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	indexLine(t, es, 1, old, "web-1", "GET /old 500")
	indexLine(t, es, 2, recent, "web-1", "GET /a 500")
	indexLine(t, es, 3, recent.Add(time.Millisecond), "web-2", "GET /b 500")
	indexLine(t, es, 4, recent.Add(2*time.Millisecond), "web-1", "GET /c 200")
	line := func(ts time.Time, host, msg string) string {
		return ts.Format("2006-01-02T15:04:05.000Z") + " " + host + " /var/log/nginx/access.log " + msg + "\n"
	}

	code, stdout, stderr := exec(t, "", "search", "--topic", "web_log", "--host", "web-1", "500")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, line(recent, "web-1", "GET /a 500"), stdout)

	code, stdout, stderr = exec(t, "", "search", "--since", "0", "-n", "2", "500")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, line(recent, "web-1", "GET /a 500")+line(recent.Add(time.Millisecond), "web-2", "GET /b 500"), stdout)

	code, stdout, stderr = exec(t, "", "search", "--since", "0", "500")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, line(old, "web-1", "GET /old 500")+line(recent, "web-1", "GET /a 500")+
		line(recent.Add(time.Millisecond), "web-2", "GET /b 500"), stdout)

	// -f: the first page, then new lines, until SIGINT.
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- logctl([]string{"search", "-f", "--interval", "100ms", "--host", "web-2"}, os.Stdin, pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	require.True(t, lines.Scan())
	require.Equal(t, line(recent.Add(time.Millisecond), "web-2", "GET /b 500"), lines.Text()+"\n")
	next := time.Now().UTC().Truncate(time.Millisecond)
	indexLine(t, es, 5, next, "web-2", "GET /d 404")
	indexLine(t, es, 6, next, "web-1", "GET /e 404")
	require.True(t, lines.Scan())
	require.Equal(t, line(next, "web-2", "GET /d 404"), lines.Text()+"\n")

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGINT))
	select {
	case code := <-done:
		require.Equal(t, 0, code, "Ctrl-C ends -f cleanly")
	case <-time.After(10 * time.Second):
		t.Fatal("search -f did not stop on SIGINT")
	}
	require.False(t, lines.Scan(), "nothing after the stop: %q", lines.Text())
}
