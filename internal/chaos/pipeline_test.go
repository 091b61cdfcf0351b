package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/record"
	"github.com/logcollect/logcollect/internal/testenv"
)

const (
	numFiles   = 4 // files 0,1 in topic <scenario>-a, files 2,3 in <scenario>-b
	partitions = 3
	collectKey = "/logagent/127.0.0.1/collect_config"
)

// servers are shared by the scenarios, which run one after the other with their own topics,
// consumer group, indexes, files and agent data dir.
type servers struct {
	kafka *testenv.Kafka
	// cluster, when set, is the Kafka the scenario's daemons use instead of kafka: a 3-broker
	// cluster, its topics replicated to every broker.
	cluster *testenv.KafkaCluster
	es      *testenv.Elasticsearch
	etcd    *testenv.Etcd
	bins    map[string]string
}

// brokers are the Kafka brokers of the scenario.
func (s *servers) brokers() []string {
	if s.cluster != nil {
		return s.cluster.Brokers()
	}
	return s.kafka.Brokers()
}

// replication is the replication factor of the scenario's topics.
func (s *servers) replication() int16 {
	if s.cluster != nil {
		return int16(s.cluster.Size())
	}
	return 1
}

// pipeline is one scenario's run: its files, daemons and what the checks found.
type pipeline struct {
	t    *testing.T
	srv  *servers
	etcd *clientv3.Client
	name string
	dir  string // log files: dir/a/<i>.log, dir/b/<i>.log

	agentCfg, transferCfg   string
	agentAddr, transferAddr string

	// Only the test's goroutine uses the fields below (the writer reads agentAddr).
	agent    *testenv.Self
	transfer *testenv.Self
	maxRSS   map[string]int64 // KiB, by binary

	kr *kafkaReader // what is in Kafka, set once the scenario runs
	w  *writer      // what was written, likewise

	proxy      *esProxy // between logtransfer and Elasticsearch, when the scenario has one
	esDownSeen int      // samples of logtransfer_es_up at 0 while the proxy faulted or a node was down
	// cluster, when the scenario has one, is the search cluster logtransfer indexes into
	// instead of srv.es, given all its nodes' URLs.
	cluster  *testenv.SearchCluster
	nodeLoss nodeLoss
	notes    []string // for the report
}

func (p *pipeline) topics() []string { return []string{p.name + "-a", p.name + "-b"} }

// filePath is the path of file i (0 ≤ i < numFiles).
func (p *pipeline) filePath(i int) string {
	sub := "a"
	if i >= numFiles/2 {
		sub = "b"
	}
	return filepath.Join(p.dir, sub, strconv.Itoa(i)+".log")
}

// tasks is the collect config: one task per topic, with extra JSON fields for task b.
func (p *pipeline) tasks(extraB string) string {
	return fmt.Sprintf(`[{"path":%q,"topic":%q,"start_position":"beginning"},{"path":%q,"topic":%q,"start_position":"beginning"%s}]`,
		filepath.Join(p.dir, "a", "*.log"), p.topics()[0], filepath.Join(p.dir, "b", "*.log"), p.topics()[1], extraB)
}

func (p *pipeline) putConfig(ctx context.Context, value string) error {
	_, err := p.etcd.Put(ctx, collectKey, value)
	if err != nil {
		return fmt.Errorf("put collect config: %w", err)
	}
	return nil
}

// newPipeline creates the topics, files and configs of a scenario and starts both daemons;
// with proxy, logtransfer reaches Elasticsearch through a fault-injecting proxy.
// With cluster, logtransfer indexes into it, given every node's URL, into indices with 3
// shards and 1 replica.
func newPipeline(t *testing.T, srv *servers, name string, proxy bool, cluster *testenv.SearchCluster) *pipeline {
	p := &pipeline{t: t, srv: srv, etcd: srv.etcd.Client(t), name: name, dir: t.TempDir(), maxRSS: map[string]int64{}, cluster: cluster}
	esURL := srv.es.URL()
	if proxy {
		p.proxy = startESProxy(t, esURL)
		esURL = p.proxy.URL()
	}
	shards, replicas := 1, 0
	if cluster != nil {
		esURL = strings.Join(cluster.URLs(), ",")
		shards, replicas = 3, 1
	}
	for _, sub := range []string{"a", "b"} {
		require.NoError(t, os.Mkdir(filepath.Join(p.dir, sub), 0o755))
	}
	for i := range numFiles {
		require.NoError(t, os.WriteFile(p.filePath(i), nil, 0o644))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(srv.brokers()...))
	require.NoError(t, err)
	_, err = kadm.NewClient(cl).CreateTopics(t.Context(), partitions, srv.replication(), nil, p.topics()...)
	cl.Close()
	require.NoError(t, err)
	require.NoError(t, p.putConfig(t.Context(), p.tasks("")))

	cfgDir := t.TempDir()
	p.agentAddr, p.transferAddr = testenv.FreeAddr(t), testenv.FreeAddr(t)
	p.agentCfg = filepath.Join(cfgDir, "agent.yaml")
	require.NoError(t, os.WriteFile(p.agentCfg, fmt.Appendf(nil, `kafka:
  brokers: [%s]
  linger: 5ms
etcd:
  endpoints: [%s]
  dial_timeout: 2s
host:
  name: chaos
  ip: 127.0.0.1
data_dir: %s
files:
  allowed_paths: ["%s/**"]
  scan_frequency: 200ms
metrics:
  listen: %s
shutdown_timeout: 20s
`, strings.Join(srv.brokers(), ","), strings.Join(srv.etcd.Endpoints(), ","), p.dataDir(), p.dir, p.agentAddr), 0o644))
	p.transferCfg = filepath.Join(cfgDir, "transfer.yaml")
	require.NoError(t, os.WriteFile(p.transferCfg, transferConfig(srv, p.topics(), "chaos-"+name, esURL, p.transferAddr, shards, replicas), 0o644))
	p.startAgent()
	p.startTransfer()
	return p
}

// transferConfig is the config of a chaos logtransfer consuming topics in group, indexing
// into esURL (indices of shards shards and replicas replicas), its metrics on listen.
func transferConfig(srv *servers, topics []string, group, esURL, listen string, shards, replicas int) []byte {
	return fmt.Appendf(nil, `kafka:
  brokers: [%s]
  topics: [%s]
  group: %s
  # the broker's group.min.session.timeout.ms: a killed member's partitions move on soon
  session_timeout: 6s
elasticsearch:
  urls: [%s]
index: "{topic}"
template:
  shards: %d
  replicas: %d
bulk:
  flush_interval: 200ms
  retry_backoff: 50ms
  retry_max_backoff: 1s
metrics:
  listen: %s
shutdown_timeout: 20s
`, strings.Join(srv.brokers(), ","), strings.Join(topics, ","), group, esURL, shards, replicas, listen)
}

func (p *pipeline) dataDir() string { return filepath.Join(p.dir, "agent-data") }

func (p *pipeline) startAgent() {
	self := testenv.StartBinary(p.t, 40, p.srv.bins["logagent"], "-config", p.agentCfg)
	testenv.WaitHealthy(p.t, p.agentAddr)
	p.agent = self
}

func (p *pipeline) startTransfer() {
	self := testenv.StartBinary(p.t, 40, p.srv.bins["logtransfer"], "-config", p.transferCfg)
	testenv.WaitHealthy(p.t, p.transferAddr)
	p.transfer = self
}

// noteRSS records the peak RSS (VmHWM) of a daemon while it still runs.
func (p *pipeline) noteRSS(name string, self *testenv.Self) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", self.Cmd.Process.Pid))
	if err != nil {
		return
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			p.maxRSS[name] = max(p.maxRSS[name], kb)
		}
	}
}

// killAgent kills logagent with SIGKILL, then starts it again.
func (p *pipeline) killAgent() error {
	p.noteRSS("logagent", p.agent)
	if err := p.agent.Kill(); err != nil {
		return fmt.Errorf("kill logagent: %w", err)
	}
	p.startAgent()
	return nil
}

// killTransfer kills logtransfer with SIGKILL, then starts it again.
func (p *pipeline) killTransfer() error {
	p.noteRSS("logtransfer", p.transfer)
	if err := p.transfer.Kill(); err != nil {
		return fmt.Errorf("kill logtransfer: %w", err)
	}
	p.startTransfer()
	return nil
}

// alive fails t if a daemon has exited by itself.
func (p *pipeline) requireAlive() {
	for name, self := range map[string]*testenv.Self{"logagent": p.agent, "logtransfer": p.transfer} {
		require.NoError(p.t, self.Cmd.Process.Signal(syscall.Signal(0)), "%s exited by itself", name)
	}
}

// stop stops both daemons with SIGTERM, which must exit 0.
func (p *pipeline) stop() {
	p.noteRSS("logagent", p.agent)
	p.noteRSS("logtransfer", p.transfer)
	require.NoError(p.t, p.agent.Stop(30*time.Second), "logagent")
	require.NoError(p.t, p.transfer.Stop(30*time.Second), "logtransfer")
}

// metric returns the value of the series of the agent or transfer whose line in /metrics
// starts with series (name and labels as exposed), or -1.
func metric(addr, series string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// metricSum is the sum of the series of metric name, at addr, whose labels contain every
// one of labels (as exposed: `reason="x"`), or -1 when /metrics cannot be read.
func metricSum(addr, name string, labels ...string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		rest, ok := strings.CutPrefix(l, name)
		if !ok || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		sp := strings.LastIndexByte(rest, ' ')
		all := true
		for _, lb := range labels {
			all = all && strings.Contains(rest[:sp], lb)
		}
		if f, err := strconv.ParseFloat(rest[sp+1:], 64); err == nil && all {
			sum += f
		}
	}
	return sum
}

// line is the text of the line with global sequence number seq, the n-th line of file f.
func line(seq, f, n int) string {
	return fmt.Sprintf("chaos seq=%08d file=%d n=%08d GET /item/%d HTTP/1.1 200 512 padding-to-a-typical-log-line-length", seq, f, n, seq)
}

var lineRE = regexp.MustCompile(`^chaos seq=(\d{8}) file=(\d) n=(\d{8}) `)

// parseLine returns the numbers of a line made by line.
func parseLine(s string) (seq, f, n int, ok bool) {
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, 0, false
	}
	seq, _ = strconv.Atoi(m[1])
	f, _ = strconv.Atoi(m[2])
	n, _ = strconv.Atoi(m[3])
	return seq, f, n, line(seq, f, n) == s
}

// esDoc is what the checks read of an indexed document.
type esDoc struct {
	ID      string `json:"-"`
	Message string `json:"message"`
	Kafka   struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	} `json:"kafka"`
}

// esPost sends a JSON body to the node and decodes the answer into v.
func (p *pipeline) esPost(path string, body any, v any) error {
	var r io.Reader
	if body != nil { // some endpoints, such as _refresh, refuse a body
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	resp, err := http.Post(p.esURL()+path, "application/json", r)
	if err != nil {
		return fmt.Errorf("elasticsearch %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("elasticsearch %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("elasticsearch %s: %s: %s", path, resp.Status, data)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(data, v)
}

// esURL is the URL of the node the checks ask: srv.es, or a running node of the cluster.
func (p *pipeline) esURL() string {
	if p.cluster == nil {
		return p.srv.es.URL()
	}
	for _, n := range p.cluster.Nodes {
		if n.Running() {
			return n.URL()
		}
	}
	return p.cluster.Nodes[0].URL()
}

func (p *pipeline) indexes() string { return strings.Join(p.topics(), ",") }

// esCount refreshes the scenario's indexes and counts their documents (-1 on error).
func (p *pipeline) esCount() int {
	if err := p.esPost("/"+p.indexes()+"/_refresh?ignore_unavailable=true", nil, nil); err != nil {
		return -1
	}
	var c struct{ Count int }
	if err := p.esPost("/"+p.indexes()+"/_count?ignore_unavailable=true", nil, &c); err != nil {
		return -1
	}
	return c.Count
}

// esDocs reads every document of the scenario's indexes with the scroll API.
func (p *pipeline) esDocs() ([]esDoc, error) {
	var out []esDoc
	err := p.scroll(p.indexes(), func(id string, _ int, d esDoc) {
		d.ID = id
		out = append(out, d)
	})
	return out, err
}

// scroll reads every document of indexes with the scroll API, in pages of
// 5,000, and calls fn with each one's _id, _version and the fields the
// checks use.
func (p *pipeline) scroll(indexes string, fn func(id string, version int, d esDoc)) error {
	type page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				ID      string `json:"_id"`
				Version int    `json:"_version"`
				Source  esDoc  `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	var pg page
	err := p.esPost("/"+indexes+"/_search?scroll=1m", map[string]any{
		"size": 5000, "sort": []string{"_doc"}, "version": true, "_source": []string{"message", "kafka"},
	}, &pg)
	for err == nil && len(pg.Hits.Hits) > 0 {
		for _, h := range pg.Hits.Hits {
			fn(h.ID, h.Version, h.Source)
		}
		id := pg.ScrollID
		pg = page{}
		err = p.esPost("/_search/scroll", map[string]string{"scroll": "1m", "scroll_id": id}, &pg)
	}
	return err
}

// kafkaRecord is what the checks keep of a record.
type kafkaRecord struct {
	key       string
	partition int32
	offset    int64
	seq, file int
	n         int
}

// kafkaReader consumes the scenario's topics from the start while the scenario runs.
type kafkaReader struct {
	mu      sync.Mutex
	recs    map[string][]kafkaRecord // by topic, in consumption order
	total   int
	bad     []string // records whose message is not one of ours
	seqSeen map[int]bool
	ids     map[string]int // document id the record gets (see docID) → seq
	idClash []string       // ids given to two different lines
	withID  int            // records with an record.IDHeader
	err     error          // last fetch error
}

func (kr *kafkaReader) lastErr() error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.err
}

func (p *pipeline) readKafka(ctx context.Context) (*kafkaReader, func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.srv.brokers()...), kgo.ConsumeTopics(p.topics()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, nil, fmt.Errorf("kafka consumer: %w", err)
	}
	kr := &kafkaReader{recs: map[string][]kafkaRecord{}, seqSeen: map[int]bool{}, ids: map[string]int{}}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachError(func(topic string, partition int32, err error) {
				kr.mu.Lock()
				kr.err = fmt.Errorf("fetch %s/%d: %w", topic, partition, err)
				kr.mu.Unlock()
			})
			fs.EachRecord(func(r *kgo.Record) {
				var v struct{ Message string }
				_ = json.Unmarshal(r.Value, &v)
				seq, f, n, ok := parseLine(v.Message)
				kr.mu.Lock()
				defer kr.mu.Unlock()
				kr.total++
				if !ok {
					kr.bad = append(kr.bad, string(r.Value))
					return
				}
				kr.seqSeen[seq] = true
				id := docID(r)
				if hasHeader(r, record.IDHeader) {
					kr.withID++
				}
				if prev, ok := kr.ids[id]; ok && prev != seq {
					kr.idClash = append(kr.idClash, fmt.Sprintf("%s: seq %d and %d", id, prev, seq))
				}
				kr.ids[id] = seq
				kr.recs[r.Topic] = append(kr.recs[r.Topic], kafkaRecord{key: string(r.Key), partition: r.Partition, offset: r.Offset, seq: seq, file: f, n: n})
			})
		}
	}()
	return kr, func() { cancel(); <-done; cl.Close() }, nil
}

// counts returns the records read, the distinct lines among them and the distinct document
// ids they get.
func (kr *kafkaReader) counts() (total, distinct, ids int) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.total, len(kr.seqSeen), len(kr.ids)
}

func hasHeader(r *kgo.Record, key string) bool {
	for _, h := range r.Headers {
		if h.Key == key {
			return true
		}
	}
	return false
}

// docID is the document id logtransfer gives a record: the event id of the record.IDHeader header,
// else the record's position (as transfer's docID).
func docID(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == record.IDHeader && len(h.Value) > 0 && len(h.Value) <= 512 && utf8.Valid(h.Value) {
			return string(h.Value)
		}
	}
	return r.Topic + "-" + strconv.Itoa(int(r.Partition)) + "-" + strconv.FormatInt(r.Offset, 10)
}
