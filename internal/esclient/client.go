package esclient

import (
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
	return opts, nil
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
