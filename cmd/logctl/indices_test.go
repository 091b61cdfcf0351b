package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// logctl indices and indices prune against a real Elasticsearch 7 node:
// logtransfer's daily indices are listed with their topic, date, docs and
// size, oldest first; prune deletes those whose every document is older
// than --older-than (only those of --topic when given), prints them first
// with --dry-run, and never touches another tool's look-alike index or a
// hidden one.
func TestIndicesCommand(t *testing.T) {
	node := testenv.StartElasticsearch(t)
	ctx := context.Background()
	es := node.Client(t)
	t.Setenv("LOGCTL_ES", node.URL())
	date := func(daysAgo int) time.Time { return time.Now().UTC().AddDate(0, 0, -daysAgo) }
	day := func(daysAgo int) string { return date(daysAgo).Format("2006.01.02") }
	create := func(index, topic string, docs int) {
		for i := range docs {
			body := `{"message":"m"}`
			if topic != "" {
				body = fmt.Sprintf(`{"message":"m","kafka":{"topic":%q}}`, topic)
			}
			_, err := es.Index().Index(index).Id(fmt.Sprint(i)).BodyString(body).Refresh("true").Do(ctx)
			require.NoError(t, err)
		}
	}
	oldWeb, youngWeb, oldApp := "web_log-"+day(40), "web_log-"+day(10), "app-"+day(35)
	create(oldWeb, "web_log", 3)
	create(youngWeb, "web_log", 2)
	create(oldApp, "app", 1)
	create("filebeat-7.17.0-"+day(40), "", 1) // another tool's: no kafka.topic
	create(".web_log-"+day(40), "web_log", 1) // hidden

	code, stdout, stderr := exec(t, "", "indices")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^INDEX +TOPIC +DATE +DOCS +SIZE +HEALTH\n`+
		regexp.QuoteMeta(oldWeb)+` +web_log +`+date(40).Format("2006-01-02")+` +3 +[0-9.]+KiB +(green|yellow)\n`+
		regexp.QuoteMeta(oldApp)+` +app +`+date(35).Format("2006-01-02")+` +1 +[0-9.]+KiB +(green|yellow)\n`+
		regexp.QuoteMeta(youngWeb)+` +web_log +`+date(10).Format("2006-01-02")+` +2 +[0-9.]+KiB +(green|yellow)\n`+
		`3 indices, 6 docs, [0-9.]+KiB\n$`, stdout)

	code, stdout, stderr = exec(t, "", "indices", "--topic", "web_log", "-o", "json")
	require.Equal(t, 0, code, stderr)
	var infos []struct {
		Index string `json:"index"`
		Topic string `json:"topic"`
		Docs  int64  `json:"docs"`
		Bytes int64  `json:"bytes"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &infos))
	require.Len(t, infos, 2)
	require.Equal(t, oldWeb, infos[0].Index)
	require.Equal(t, int64(3), infos[0].Docs)
	require.Positive(t, infos[0].Bytes)

	exists := func(name string) bool {
		ok, err := es.IndexExists(name).Do(ctx)
		require.NoError(t, err)
		return ok
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // regexp
		stderr string // regexp
		gone   []string
	}{
		{name: "age required", args: []string{"indices", "prune"}, code: 1, stderr: `required flag\(s\) "older-than" not set`},
		{name: "age too small", args: []string{"indices", "prune", "--older-than", "30m"}, code: 1, stderr: `--older-than 30m0s: must be at least 1h`},
		{name: "age without unit", args: []string{"indices", "prune", "--older-than", "30"}, code: 1, stderr: `invalid age "30"`},
		{name: "index without date", args: []string{"indices", "--index", "{topic}"}, code: 1, stderr: `--index "\{topic\}": has no date placeholder`},
		{name: "dry run", args: []string{"indices", "prune", "--older-than", "30d", "--dry-run"},
			stdout: `^would delete ` + regexp.QuoteMeta(oldWeb) + ` \(\S+, 3 docs, [0-9.]+KiB\)\nwould delete ` + regexp.QuoteMeta(oldApp) + ` .*\n2 indices would be deleted \(dry run\), 4 docs, [0-9.]+KiB\n$`},
		{name: "one topic", args: []string{"indices", "prune", "--older-than", "30d", "--topic", "app"},
			stdout: `^deleted ` + regexp.QuoteMeta(oldApp) + ` \(\S+, 1 docs, [0-9.]+KiB\)\n1 indices deleted, 1 docs, [0-9.]+KiB\n$`, gone: []string{oldApp}},
		{name: "all topics", args: []string{"indices", "prune", "--older-than", "30d"},
			stdout: `^deleted ` + regexp.QuoteMeta(oldWeb) + ` .*\n1 indices deleted, 3 docs`, gone: []string{oldApp, oldWeb}},
		{name: "nothing left", args: []string{"indices", "prune", "--older-than", "30d"}, stdout: `^0 indices deleted, 0 docs, 0B\n$`, gone: []string{oldApp, oldWeb}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := exec(t, "", tt.args...)
			require.Equal(t, tt.code, code, stderr)
			if tt.stdout != "" {
				require.Regexp(t, tt.stdout, stdout)
			}
			if tt.stderr != "" {
				require.Regexp(t, tt.stderr, stderr)
			}
			for _, name := range []string{oldWeb, youngWeb, oldApp, "filebeat-7.17.0-" + day(40), ".web_log-" + day(40)} {
				require.Equal(t, !slices.Contains(tt.gone, name), exists(name), name)
			}
		})
	}
}
