package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/testenv"
)

const (
	topic      = "web_log"
	sysmonHost = "e2e-host"
	influxDB   = "telegraf"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return root
}

// stack is the pipeline under test: servers, daemons and the log file the agent tails.
type stack struct {
	kafka   *testenv.Kafka
	es      *testenv.Elasticsearch
	etcd    *testenv.Etcd
	influx  *testenv.Influx
	logPath string

	// metrics addresses of the daemons, by scrape job name
	addrs map[string]string
	procs map[string]*testenv.Self
}

// startStack starts the servers and the three daemons, and puts the agent's collect config
// into etcd. logtransfer runs the nginx pipeline "web" on the topic, so that the Kibana
// objects on parsed fields find data.
func startStack(t *testing.T) *stack {
	t.Helper()
	bins := testenv.BuildBinaries(t, "logagent", "logtransfer", "sysmon")

	s := &stack{addrs: map[string]string{}, procs: map[string]*testenv.Self{}}
	s.kafka = testenv.StartKafka(t)
	s.es = testenv.StartElasticsearch(t)
	s.etcd = testenv.StartEtcd(t)
	s.influx = testenv.StartInflux(t)
	require.NoError(t, s.influx.CreateDatabase(influxDB))

	dir := t.TempDir()
	s.logPath = filepath.Join(dir, "access.log")
	require.NoError(t, os.WriteFile(s.logPath, nil, 0o644))
	collect := fmt.Sprintf(`[{"path":%q,"topic":%q,"start_position":"beginning"}]`, s.logPath, topic)
	_, err := s.etcd.Client(t).Put(t.Context(), "/logagent/127.0.0.1/collect_config", collect)
	require.NoError(t, err)

	for _, d := range []struct{ name, config string }{
		{"logagent", fmt.Sprintf(`kafka:
  brokers: [%s]
  linger: 5ms
etcd:
  endpoints: [%s]
  dial_timeout: 2s
host:
  name: e2e-agent
  ip: 127.0.0.1
data_dir: %s
files:
  allowed_paths: ["%s/**"]
  scan_frequency: 200ms
metrics:
  listen: %%s
`, strings.Join(s.kafka.Brokers(), ","), strings.Join(s.etcd.Endpoints(), ","), filepath.Join(dir, "agent-data"), dir)},
		{"logtransfer", fmt.Sprintf(`kafka:
  brokers: [%s]
  topics: [%s]
elasticsearch:
  urls: [%s]
template:
  replicas: 0
bulk:
  flush_interval: 200ms
  retry_backoff: 50ms
  retry_max_backoff: 1s
pipelines:
  - name: web
    topics: [%[2]s]
    processors:
      - nginx: {}
metrics:
  listen: %%s
`, strings.Join(s.kafka.Brokers(), ","), topic, s.es.URL())},
		{"sysmon", fmt.Sprintf(`interval: 1s
host: %s
influx:
  url: %s
  bucket: %s/autogen
metrics:
  listen: %%s
`, sysmonHost, s.influx.URL(), influxDB)},
	} {
		addr := testenv.FreeAddr(t)
		path := filepath.Join(dir, d.name+".yaml")
		require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(d.config, addr)), 0o644))
		s.procs[d.name] = testenv.StartBinary(t, 60, bins[d.name], "-config", path)
		s.addrs[d.name] = addr
	}
	for _, addr := range s.addrs {
		testenv.WaitHealthy(t, addr)
	}
	return s
}

// writeLines appends nginx-style lines to the agent's file every 100 ms until ctx ends, so
// every rate on the dashboards has something to show.
func (s *stack) writeLines(ctx context.Context, t *testing.T) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := os.OpenFile(s.logPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var b strings.Builder
			for i := range 20 {
				fmt.Fprintf(&b, `10.0.0.%d - - [%s] "GET /item/%d HTTP/1.1" 200 512 "-" "e2e"`+"\n",
					i, time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"), n*20+i)
			}
			if _, err := f.WriteString(b.String()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	return &wg
}

// producePoison sends a record Elasticsearch must reject (an @timestamp that is not a date),
// so the index-error and DLQ panels have data too.
func (s *stack) producePoison(t *testing.T) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.kafka.Brokers()...))
	require.NoError(t, err)
	defer cl.Close()
	rec := &kgo.Record{Topic: topic, Value: []byte(`{"@timestamp":"not a date","message":"poison"}`)}
	require.NoError(t, cl.ProduceSync(t.Context(), rec).FirstErr())
}
