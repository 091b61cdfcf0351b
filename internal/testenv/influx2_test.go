package testenv

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/stretchr/testify/require"
)

func TestInflux2(t *testing.T) {
	i := StartInflux2(t)

	client := influxdb2.NewClient(i.URL(), i.Token())
	defer client.Close()
	health, err := client.Health(t.Context())
	require.NoError(t, err)
	require.Equal(t, "pass", string(health.Status))

	write := client.WriteAPIBlocking(Influx2Org, Influx2Bucket)
	base := time.Unix(1_700_000_000, 0)
	lines := make([]string, 100)
	for n := range lines {
		lines[n] = fmt.Sprintf("cpu,host=h1,cpu=cpu-total usage_idle=%d.5,n=%di %d", n, n, base.Add(time.Duration(n)*time.Second).UnixNano())
	}
	require.NoError(t, write.WriteRecord(t.Context(), lines...))

	series, err := i.Query(Influx2Bucket, `SELECT count(usage_idle) FROM cpu WHERE host='h1'`)
	require.NoError(t, err)
	require.Len(t, series, 1)
	require.Equal(t, "100", fmt.Sprint(series[0].Rows()[0]["count"]))

	// A wrong token is a 401, a missing bucket a 404.
	for _, tc := range []struct {
		name, token, bucket string
		status              int
	}{
		{"wrong token", "nope", Influx2Bucket, http.StatusUnauthorized},
		{"missing bucket", i.Token(), "nope", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := influxdb2.NewClient(i.URL(), tc.token)
			defer c.Close()
			err := c.WriteAPIBlocking(Influx2Org, tc.bucket).WriteRecord(t.Context(), lines[0])
			var herr *influxhttp.Error
			require.ErrorAs(t, err, &herr)
			require.Equal(t, tc.status, herr.StatusCode, "%v", err)
		})
	}

	// Data survives a restart.
	require.NoError(t, i.Stop())
	require.NoError(t, i.Start())
	series, err = i.Query(Influx2Bucket, `SELECT count(usage_idle) FROM cpu WHERE host='h1'`)
	require.NoError(t, err)
	require.Equal(t, "100", fmt.Sprint(series[0].Rows()[0]["count"]))
}
