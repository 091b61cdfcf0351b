package transfer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/kafkaclient"
)

// The metrics and health endpoints listen on loopback unless the config
// says otherwise.
func TestMetricsListenDefaultsToLoopback(t *testing.T) {
	c := Config{Kafka: KafkaConfig{Config: kafkaclient.Config{Brokers: []string{"kafka:9092"}}, Topics: []string{"web_log"}}, Elasticsearch: ElasticsearchConfig{URLs: []string{"http://es:9200"}}}
	require.NoError(t, c.Validate())
	require.Equal(t, "127.0.0.1:9102", c.Metrics.Listen)
}
