package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/stretchr/testify/require"
)

func TestInflux(t *testing.T) {
	i := StartInflux(t)
	require.NoError(t, i.CreateDatabase("testenv"))

	client := influxdb2.NewClient(i.URL(), i.Token())
	defer client.Close()
	health, err := client.Health(t.Context())
	require.NoError(t, err, "the v2-compatible /health")
	require.Equal(t, "pass", string(health.Status))

	write := client.WriteAPIBlocking("", "testenv/autogen")
	base := time.Unix(1_700_000_000, 0)
	lines := make([]string, 100)
	for n := range lines {
		lines[n] = fmt.Sprintf("cpu,host=h1,cpu=cpu-total usage_idle=%d.5,n=%di %d", n, n, base.Add(time.Duration(n)*time.Second).UnixNano())
	}
	require.NoError(t, write.WriteRecord(t.Context(), lines...))

	series, err := i.Query("testenv", `SELECT count(usage_idle) FROM cpu WHERE host='h1'`)
	require.NoError(t, err)
	require.Len(t, series, 1)
	require.Equal(t, "100", fmt.Sprint(series[0].Rows()[0]["count"]))

	series, err = i.Query("testenv", `SELECT usage_idle, n FROM cpu WHERE host='h1' ORDER BY time DESC LIMIT 1`)
	require.NoError(t, err)
	require.Equal(t, []string{"time", "usage_idle", "n"}, series[0].Columns)
	row := series[0].Rows()[0]
	require.Equal(t, "99.5", fmt.Sprint(row["usage_idle"]))
	require.Equal(t, base.Add(99*time.Second).UTC().Format(time.RFC3339), row["time"])

	// A missing database is a 404 for the writer.
	err = client.WriteAPIBlocking("", "nope").WriteRecord(t.Context(), lines[0])
	var herr *influxhttp.Error
	require.ErrorAs(t, err, &herr)
	require.Equal(t, http.StatusNotFound, herr.StatusCode, "%v", err)
	t.Logf("missing database: %v", err)

	_, err = i.Query("testenv", `SELECT nonsense FROM`)
	require.Error(t, err, "a bad statement is an error")

	// Outage: writes fail fast with a connection error, data survives a restart.
	require.NoError(t, i.Stop())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err = write.WriteRecord(ctx, lines[0])
	require.ErrorAs(t, err, &herr)
	require.Zero(t, herr.StatusCode, "connection error, no HTTP status: %v", err)
	require.False(t, errors.Is(err, context.DeadlineExceeded), "refused, not hanging: %v", err)

	require.NoError(t, i.Start())
	series, err = i.Query("testenv", `SELECT count(usage_idle) FROM cpu`)
	require.NoError(t, err)
	require.Equal(t, "100", fmt.Sprint(series[0].Rows()[0]["count"]), "points survive a graceful stop")
	require.NoError(t, write.WriteRecord(t.Context(), fmt.Sprintf("cpu,host=h2 usage_idle=1 %d", base.UnixNano())))

	require.NoError(t, i.Kill())
	require.NoError(t, i.Start())
	series, err = i.Query("testenv", `SELECT count(usage_idle) FROM cpu`)
	require.NoError(t, err)
	require.Equal(t, "101", fmt.Sprint(series[0].Rows()[0]["count"]), "acknowledged points survive a crash (WAL)")
}

func TestInfluxWithAuth(t *testing.T) {
	i := StartInfluxWithAuth(t, "admin", "s3cret")
	require.NoError(t, i.CreateDatabase("secure"))
	line := fmt.Sprintf("mem,host=h1 used=1i %d", time.Now().UnixNano())

	bad := influxdb2.NewClient(i.URL(), "admin:wrong")
	defer bad.Close()
	err := bad.WriteAPIBlocking("", "secure").WriteRecord(t.Context(), line)
	var herr *influxhttp.Error
	require.ErrorAs(t, err, &herr)
	require.Equal(t, http.StatusUnauthorized, herr.StatusCode, "%v", err)
	t.Logf("wrong password: %v", err)

	good := influxdb2.NewClient(i.URL(), i.Token())
	defer good.Close()
	require.NoError(t, good.WriteAPIBlocking("", "secure").WriteRecord(t.Context(), line))
	series, err := i.Query("secure", `SELECT used FROM mem`)
	require.NoError(t, err)
	require.Len(t, series, 1)
	require.Len(t, series[0].Values, 1)
}

func TestInfluxTLS(t *testing.T) {
	certs := NewCerts(t)
	i := StartInfluxTLS(t, certs, "admin", "pw")
	require.True(t, strings.HasPrefix(i.URL(), "https://127.0.0.1:"), i.URL())
	require.NoError(t, i.CreateDatabase("db"))
	_, err := i.Query("db", "SHOW MEASUREMENTS")
	require.NoError(t, err)

	_, err = http.Get(i.URL() + "/ping")
	require.ErrorContains(t, err, "certificate signed by unknown authority", "the system roots do not trust the test CA")
	resp, err := http.Get("http://" + strings.TrimPrefix(i.URL(), "https://") + "/ping")
	if err == nil {
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP is not served")
	}
}
