package transfer

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/esindex"
	"github.com/logcollect/logcollect/internal/testenv"
)

// Retention against a real Elasticsearch 7 node, with indices of past
// dates: two logtransfer instances delete the daily indices of their topics
// whose every document is older than retention.max_age, each index once
// (the second instance finds it gone: no error), and leave alone the
// younger ones, today's, those of a topic they do not consume, hidden
// indices, look-alike names of other tools and an index with the right name
// whose documents have no kafka.topic. Deletions are logged and counted.
func TestRealElasticsearchRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an Elasticsearch node")
	}
	node := testenv.StartElasticsearch(t)
	ctx := context.Background()
	es := node.Client(t)
	day := func(daysAgo int) string { return time.Now().UTC().AddDate(0, 0, -daysAgo).Format("2006.01.02") }
	deleted := []string{"ret-" + day(40), "ret-" + day(31), "ret.b-" + day(100)}
	kept := []string{
		"ret-" + day(29),                               // younger than 30 days
		"ret-" + day(30),                               // its last documents are 29 days and some hours old
		"other-" + day(40),                             // a topic not consumed
		"filebeat-7.17.0-" + day(40),                   // another tool's
		".ret-" + day(40),                              // hidden
		"ret-" + day(40) + "-restored",                 // text around the name
		"ret-" + strings.ReplaceAll(day(40), ".", "-"), // another date format
	}
	for _, name := range append(append([]string{}, deleted...), kept...) {
		_, err := es.Index().Index(name).Id("1").BodyString(`{"message":"old","kafka":{"topic":"ret"}}`).Do(ctx)
		require.NoError(t, err, name)
	}
	// A name logtransfer could make, but not its documents: no kafka.topic.
	notOurs := "ret-" + day(50)
	_, err := es.Index().Index(notOurs).Id("1").BodyString(`{"message":"old"}`).Do(ctx)
	require.NoError(t, err)
	kept = append(kept, notOurs)

	brokers := startKfake(t, 2)
	produceAgentRecords(t, brokers, "ret", 0, 50, nil) // today's index
	produceAgentRecords(t, brokers, "ret.b", 0, 1, nil)
	cfg := testConfig(brokers, node.URL(), "ret", "ret.b")
	zero := 0
	cfg.Template.Replicas = &zero
	cfg.Retention.MaxAge = esindex.Age(30 * 24 * time.Hour)
	cfg.Retention.Interval = config.Duration(300 * time.Millisecond)
	var logs1, logs2 syncBuffer
	r1 := startTransferLog(t, cfg, &logs1, slog.LevelInfo)
	r2 := startTransferLog(t, cfg, &logs2, slog.LevelInfo)
	today := "ret-" + day(0)
	require.Eventually(t, func() bool { return esCount(ctx, es, today) == 50 }, 60*time.Second, 100*time.Millisecond)

	exists := func(name string) bool {
		ok, err := es.IndexExists(name).Do(ctx)
		require.NoError(t, err)
		return ok
	}
	require.Eventually(t, func() bool {
		for _, name := range deleted {
			if exists(name) {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "old indices deleted")
	// A few more runs of both instances.
	time.Sleep(time.Second)
	for _, name := range append(kept, today) {
		require.True(t, exists(name), "%s kept", name)
	}
	total := r1.metric(t, "logtransfer_retention_deleted_indices_total") + r2.metric(t, "logtransfer_retention_deleted_indices_total")
	require.Equal(t, float64(len(deleted)), total, "each index deleted once")
	require.Equal(t, float64(0), r1.metric(t, "logtransfer_retention_errors_total")+r2.metric(t, "logtransfer_retention_errors_total"))
	logs := logs1.String() + logs2.String()
	for _, name := range deleted {
		require.Equal(t, 1, strings.Count(logs, "retention: deleted an index older than retention.max_age\" component=transfer index="+name+" "), logs)
	}

	// An old index that appears later (a late record) goes at the next run.
	late := "ret-" + day(45)
	_, err = es.Index().Index(late).Id("1").BodyString(`{"message":"late","kafka":{"topic":"ret"}}`).Do(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !exists(late) }, 10*time.Second, 100*time.Millisecond)
	require.Eventually(t, func() bool {
		return r1.metric(t, "logtransfer_retention_deleted_indices_total")+r2.metric(t, "logtransfer_retention_deleted_indices_total") == float64(len(deleted)+1)
	}, 5*time.Second, 50*time.Millisecond)
	t.Logf("deleted %v and %s; kept %v", deleted, late, kept)
}
