package transfer

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/olivere/elastic/v7"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/transfer/transfertest"
)

// The template API follows the engine's version: composable templates where
// the engine has them (Elasticsearch 7.8+, every OpenSearch), replacing a
// legacy template of the same name; the legacy API before 7.8. The real
// engines are in TestRealTemplate.
func TestTemplateAPIByEngine(t *testing.T) {
	tests := []struct {
		number, distribution string
		composable           bool
	}{
		{number: "6.8.23"},
		{number: "7.7.1"},
		{number: "7.8.0", composable: true},
		{number: "7.17.29", composable: true},
		{number: "8.15.0", composable: true},
		{number: "1.3.20", distribution: "opensearch", composable: true},
		{number: "2.19.6", distribution: "opensearch", composable: true},
	}
	for _, tt := range tests {
		t.Run(tt.distribution+tt.number, func(t *testing.T) {
			es := transfertest.NewES(t)
			es.SetVersion(tt.number, tt.distribution)
			cfg := testConfig([]string{"127.0.0.1:1"}, es.URL(), "web")
			require.NoError(t, cfg.Validate())
			tr := &Transfer{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil))} // installTemplate needs no more
			c, err := elastic.NewClient(elastic.SetURL(es.URL()), elastic.SetSniff(false), elastic.SetHealthcheck(false))
			require.NoError(t, err)
			ctx := context.Background()
			if tt.composable { // an earlier logtransfer's legacy template
				_, err = c.IndexPutTemplate("logtransfer").BodyString(`{"index_patterns":["web-*"]}`).Do(ctx)
				require.NoError(t, err)
			}
			require.NoError(t, tr.installTemplate(ctx, c))
			if tt.composable {
				require.NotNil(t, es.Template("logtransfer"))
				require.Nil(t, es.LegacyTemplate("logtransfer"), "replaced")
			} else {
				require.Nil(t, es.Template("logtransfer"))
				require.NotNil(t, es.LegacyTemplate("logtransfer"))
			}
		})
	}
}
