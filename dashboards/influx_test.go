package dashboards

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
	"github.com/logcollect/logcollect/sysmon"
)

// TestHostsQueriesAgainstInfluxDB runs every InfluxQL query of the hosts
// dashboard, with its variables expanded as Grafana would, against a real
// InfluxDB 1.8 fed by the real sysmon sampling this machine, and requires
// each to return at least one non-null value for every column: a misspelt
// field, measurement or tag gives an empty panel, which only this catches.
// It also runs the $host variable query.
func TestHostsQueriesAgainstInfluxDB(t *testing.T) {
	if testing.Short() {
		t.Skip("starts InfluxDB and sysmon")
	}
	influx := testenv.StartInflux(t)
	const db, host = "telegraf", "dash-test-1"
	require.NoError(t, influx.CreateDatabase(db))

	s, err := sysmon.New(sysmon.Config{
		Host:     host,
		Interval: sysmon.Duration(500 * time.Millisecond),
		Influx:   sysmon.InfluxConfig{URL: influx.URL(), Bucket: db},
	}, nil, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	data, err := Files.ReadFile(HostsFile)
	require.NoError(t, err)
	qs, err := Queries(data)
	require.NoError(t, err)
	vars := map[string]string{
		"host":       host,
		"__interval": "1s",
		"timeFilter": "time > now() - 10m",
	}
	for _, q := range qs {
		expr, err := q.Expand(vars)
		require.NoError(t, err)
		// The derivative queries need samples in two 1s buckets, the cpu
		// query a second sample: poll until every column has a value.
		var last error
		deadline := time.Now().Add(30 * time.Second)
		for {
			last = hasData(influx, db, expr)
			if last == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		require.NoError(t, last, "%s\n%s", q, expr)
	}

	// The check can fail: a misspelt field gives no data.
	require.Error(t, hasData(influx, db, `SELECT mean("usage_usr") FROM "cpu" WHERE "host" =~ /^`+host+`$/ AND time > now() - 10m GROUP BY time(1s), "host"`))
	require.Error(t, hasData(influx, db, `SELECT mean("usage_user") AS "user", mean("usage_sys") AS "system" FROM "cpu" WHERE time > now() - 10m GROUP BY time(1s), "host"`))

	series, err := influx.Query(db, `SHOW TAG VALUES FROM "cpu" WITH KEY = "host"`)
	require.NoError(t, err)
	require.Len(t, series, 1)
	require.Contains(t, series[0].Rows(), map[string]any{"key": "host", "value": host})
}

// hasData says whether an InfluxQL query returns at least one series and a
// non-null value in each of its value columns.
func hasData(influx *testenv.Influx, db, q string) error {
	series, err := influx.Query(db, q)
	if err != nil {
		return err
	}
	if len(series) == 0 {
		return fmt.Errorf("no series")
	}
	var empty []string
	for _, s := range series {
		for c, col := range s.Columns {
			if col == "time" {
				continue
			}
			found := false
			for _, row := range s.Values {
				if c < len(row) && row[c] != nil {
					found = true
					break
				}
			}
			if !found {
				empty = append(empty, fmt.Sprintf("%s%v.%s", s.Name, s.Tags, col))
			}
		}
	}
	if len(empty) > 0 {
		return fmt.Errorf("only nulls in %s", strings.Join(empty, ", "))
	}
	return nil
}
