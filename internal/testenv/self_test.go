package testenv

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(http.StatusOK)
		case "/metrics":
			_, _ = w.Write([]byte(`# TYPE a_total counter
a_total{x="1"} 2
a_total{x="2"} 3
# TYPE g gauge
g 1.5
# TYPE h histogram
h_bucket{le="+Inf"} 4
h_sum 10
h_count 4
`))
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	WaitHealthy(t, addr)
	m, err := Scrape(addr)
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"a_total": 5, "g": 1.5, "h": 4}, m)
	require.Equal(t, 5.0, Metric(addr, "a_total"))
	require.Equal(t, -1.0, Metric(addr, "missing"))
	require.Equal(t, -1.0, Metric(FreeAddr(t), "a_total"))
}
