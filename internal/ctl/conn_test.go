package ctl

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// Every command fails with the service, its address, what it was doing and
// why, when the server is not there.
func TestUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for connection timeouts")
	}
	addr := testenv.FreeAddr(t) // nothing listens there
	const timeout = time.Second
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want []string
	}{
		{
			name: "etcd agents",
			call: func() error {
				cli, err := NewEtcdClient([]string{addr}, timeout)
				require.NoError(t, err)
				defer cli.Close()
				_, err = ListAgents(ctx, cli, timeout)
				return err
			},
			want: []string{"etcd " + addr + ": cannot connect (dial tcp " + addr + ": connect: connection refused): list /logagent/agents/"},
		},
		{
			name: "etcd config set",
			call: func() error {
				cli, err := NewEtcdClient([]string{"http://" + addr}, timeout)
				require.NoError(t, err)
				defer cli.Close()
				_, err = NewConfigStore(cli, "", timeout).Set(ctx, "10.0.0.1", []byte(validConfig), -1)
				return err
			},
			want: []string{"etcd http://" + addr + ": cannot connect (dial tcp " + addr + ": connect: connection refused): get /logagent/10.0.0.1/collect_config"},
		},
		{
			name: "kafka lag",
			call: func() error {
				adm, err := NewKafkaAdmin([]string{addr}, timeout)
				require.NoError(t, err)
				defer adm.Close()
				_, err = Lag(ctx, adm, []string{addr}, DefaultGroup, timeout)
				return err
			},
			want: []string{"kafka " + addr + ": cannot connect (dial tcp " + addr + ": connect: connection refused): lag of group logtransfer"},
		},
		{
			name: "elasticsearch search",
			call: func() error {
				es, err := NewElasticsearchClient([]string{"http://" + addr}, timeout)
				require.NoError(t, err)
				_, err = NewSearcher(es, []string{"http://" + addr}, timeout).Search(ctx, Query{Text: "error", Limit: 10})
				return err
			},
			want: []string{"elasticsearch http://" + addr + ": cannot connect (dial tcp " + addr + ": connect: connection refused): search *-*"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := tt.call()
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			require.Less(t, time.Since(start), 5*timeout, "bounded by the timeout")
		})
	}
}

func TestHostPort(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:2379", "127.0.0.1:2379"},
		{"http://127.0.0.1:2379", "127.0.0.1:2379"},
		{"http://es.example", "es.example:80"},
		{"https://es.example", "es.example:443"},
		{"https://[::1]:9200", "[::1]:9200"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) { require.Equal(t, tt.want, hostPort(tt.in)) })
	}
}
