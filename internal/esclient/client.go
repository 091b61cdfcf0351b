package esclient

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/logcollect/logcollect/internal/config"
)

// Options are the olivere client options for c: its URLs, TLS, credentials
// and timeout, sniffing and health checks as c says. c must be valid
// (Config.Validate). The CA and client certificate files are read here, and
// errors name them.
func Options(c Config) ([]elastic.ClientOptionFunc, error) {
	tlsCfg, err := c.tlsConfig().Build()
	if err != nil {
		return nil, fmt.Errorf("elasticsearch.tls: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16 // bulk workers and readiness checks share the connections
	if tlsCfg != nil {
		tr.TLSClientConfig = tlsCfg
	}
	opts := []elastic.ClientOptionFunc{
		elastic.SetURL(c.URLs...),
		elastic.SetSniff(c.Sniff),
		elastic.SetHealthcheck(c.Healthcheck),
		elastic.SetHealthcheckTimeoutStartup(5 * time.Second),
		elastic.SetHttpClient(&http.Client{Transport: tr, Timeout: c.Timeout.D()}),
	}
	if len(c.URLs) > 0 && strings.HasPrefix(c.URLs[0], "https://") {
		// For the URLs found by sniffing, which come without a scheme.
		opts = append(opts, elastic.SetScheme("https"))
	}
	if c.Username != "" {
		opts = append(opts, elastic.SetBasicAuth(c.Username, c.Password))
	}
	if c.APIKey != "" {
		opts = append(opts, elastic.SetHeaders(http.Header{"Authorization": {"ApiKey " + c.APIKey}}))
	}
	if len(c.URLs) > 1 {
		opts = append(opts, elastic.SetRetrier(failover{others: len(c.URLs) - 1}))
	}
	return opts, nil
}

// failover is the retrier of a client given several URLs (the nodes of a cluster, sniffing
// off): a request that cannot reach its node (connection refused or reset: the node is down)
// goes at once to the next URL, each other URL once, before the error is the caller's. olivere
// otherwise returns the first node's error and skips that node until every node has failed: a
// node killed during a bulk request would fail it, and logtransfer would back off and report
// Elasticsearch down (logtransfer_es_up 0) while the other nodes are up. The failed node is not
// marked dead, so it is tried again on later requests: it is used as soon as it is back. Only
// transport errors come here (olivere retries no HTTP status without RetryStatusCodes): a 429
// or a 503 from a live node is the caller's to retry with backoff.
type failover struct{ others int }

func (f failover) Retry(ctx context.Context, retry int, _ *http.Request, _ *http.Response, _ error) (time.Duration, bool, error) {
	return 0, retry <= f.others && ctx.Err() == nil, nil
}

// New returns a client built with Options. Without sniffing and health
// checks it does not contact Elasticsearch: requests go to the URLs given
// and fail with their own error when a node is down.
func New(c Config) (*elastic.Client, error) {
	opts, err := Options(c)
	if err != nil {
		return nil, err
	}
	es, err := elastic.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client for %v: %w", config.RedactURLs(c.URLs), err)
	}
	return es, nil
}
