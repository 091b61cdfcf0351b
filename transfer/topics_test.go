package transfer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
	"github.com/logcollect/logcollect/transfer/transfertest"
)

func TestParseTopics(t *testing.T) {
	tests := []struct {
		name, value string
		want        []string
		err         string
	}{
		{name: "list", value: `["a","b.c"]`, want: []string{"a", "b.c"}},
		{name: "empty", value: `[]`, want: []string{}},
		{name: "not a list", value: `{"a":1}`, err: "want a JSON list of topic names"},
		{name: "bad name", value: `["a b"]`, err: `"a b": not a valid topic name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTopics([]byte(tt.value))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// Topics listed in the etcd key are consumed; a topic added to the key is
// consumed without a restart; an invalid value is ignored.
func TestTransferEtcdTopics(t *testing.T) {
	if testing.Short() {
		t.Skip("follows topic changes in etcd")
	}
	etcd := testenv.StartEtcd(t)
	cli := etcd.Client(t)
	ctx := context.Background()
	brokers := startKfake(t, 2)
	es := transfertest.NewES(t)
	_, err := cli.Put(ctx, "/logtransfer/topics", `["first"]`)
	require.NoError(t, err)

	cfg := testConfig(brokers, es.URL())
	cfg.Kafka.Group = "etcd-topics"
	cfg.Etcd.Endpoints = etcd.Endpoints()
	produceAgentRecords(t, brokers, "first", 0, 1000, nil)
	produceAgentRecords(t, brokers, "second", 0, 500, nil)
	startTransfer(t, cfg)
	waitCount(t, es, 1000, 15*time.Second)

	_, err = cli.Put(ctx, "/logtransfer/topics", `not json`)
	require.NoError(t, err)
	_, err = cli.Put(ctx, "/logtransfer/topics", `["first","second"]`)
	require.NoError(t, err)
	waitCount(t, es, 1500, 15*time.Second)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "second")
}
