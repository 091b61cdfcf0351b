package transfer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/logcollect/logcollect/internal/esclient"
	"github.com/logcollect/logcollect/internal/esindex"
	"github.com/logcollect/logcollect/internal/etcdclient"
	"github.com/logcollect/logcollect/internal/kafkaclient"
	"github.com/logcollect/logcollect/pipeline"
)

// lagInterval is how often logtransfer_consumer_lag is refreshed (a
// variable for tests).
var lagInterval = 10 * time.Second

// Transfer consumes Kafka records in a consumer group and indexes them into
// Elasticsearch, at least once: a partition's offset is committed only up to
// the highest offset below which every record was accepted by Elasticsearch
// or sent to the dead-letter topic. Documents have deterministic ids, so a
// redelivery overwrites instead of duplicating.
//
// Records are handled in batches: poll (rebalances are blocked while a
// batch is held, kgo.BlockRebalanceOnPoll), index with bulk.workers
// concurrent bulk requests, retry what Elasticsearch could not take (fetching
// paused meanwhile), send rejected records to the DLQ, commit. The next
// batch is polled while one is indexed, and batches are indexed one after
// the other, which keeps each partition's order up to the bulk request.
// Rebalances are allowed when no batch is held. Nothing is ever committed
// for partitions this member no longer owns.
type Transfer struct {
	cfg Config
	log *slog.Logger
	m   *Metrics
	// consumed and indexed are m's per-topic counters, cached.
	consumed, indexed *topicCounters
	namer             *esindex.Template
	kcl               *kgo.Client
	adm               *kadm.Client
	topics            *kafkaclient.Topics // creates the DLQ topics, reports missing ones

	etcd      *clientv3.Client // nil without etcd.endpoints
	esOpts    []elastic.ClientOptionFunc
	es        atomic.Pointer[elastic.Client]
	connected atomic.Bool // the template is installed
	// authFailing is set while Elasticsearch answers 401/403.
	authFailing atomic.Bool
	// tooLargeLogged is when a 413 was last logged (unix ns).
	tooLargeLogged atomic.Int64
	lost           atomic.Uint64 // bumped when partitions are lost
	stalls         *stalls       // partitions waiting for a retry
	closeOne       sync.Once

	// pipes is the running set of pipelines (see pipelines.go); psrc the
	// sets of the config file and of etcd, which decide it.
	pipes atomic.Pointer[pipelineSet]
	psrc  pipelineSources
}

// New validates cfg (see Config.Validate), builds the Kafka client (which
// starts joining the group) and registers the metrics with reg. It does not
// contact Elasticsearch: Run does, retrying until it answers.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Transfer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	namer, err := esindex.Parse(cfg.Index)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	esOpts, err := esclient.Options(cfg.Elasticsearch)
	if err != nil {
		return nil, err
	}
	t := &Transfer{
		cfg:    cfg,
		log:    log.With("component", "transfer"),
		m:      NewMetrics(reg),
		namer:  namer,
		esOpts: esOpts,
	}
	t.stalls = newStalls(t.log, t.m)
	t.consumed = newTopicCounters(t.m.RecordsConsumed)
	t.indexed = newTopicCounters(t.m.DocsIndexed)
	set, err := pipeline.NewSet(cfg.Pipelines) // checked by Validate
	if err != nil {
		return nil, fmt.Errorf("config: pipelines: %w", err)
	}
	t.psrc.file = set
	t.pipes.Store(t.newPipelineSet(set))
	opts, err := kafkaclient.ProducerOpts(cfg.Kafka.producerConfig(), log)
	if err != nil {
		return nil, err
	}
	start := kgo.NewOffset().AtStart()
	if cfg.Kafka.StartOffset == "latest" {
		start = kgo.NewOffset().AtEnd()
	}
	opts = append(opts,
		kgo.ConsumerGroup(cfg.Kafka.Group),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(cfg.Kafka.SessionTimeout.D()),
		kgo.HeartbeatInterval(min(3*time.Second, cfg.Kafka.SessionTimeout.D()/3)),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(start),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			t.log.Info("partitions assigned", "partitions", a)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			// Rebalances wait for AllowRebalance, which Run calls only
			// between batches, after their commit: nothing is pending.
			t.log.Info("partitions revoked", "partitions", r)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			t.lost.Add(1)
			t.log.Warn("partitions lost (session expired?): the current batch will not be committed", "partitions", l)
		}),
	)
	if id := *cfg.Kafka.InstanceID; id != "" {
		opts = append(opts, kgo.InstanceID(id))
	}
	opts = append(opts, fetchOpts(cfg.Kafka)...)
	if cfg.Kafka.TopicRegex == "" {
		if len(cfg.Kafka.Topics) > 0 {
			opts = append(opts, kgo.ConsumeTopics(cfg.Kafka.Topics...))
		}
	} else {
		res := []string{cfg.Kafka.TopicRegex}
		for _, tp := range cfg.Kafka.Topics {
			res = append(res, "^"+regexp.QuoteMeta(tp)+"$")
		}
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(res...))
	}
	if len(cfg.Etcd.Endpoints) > 0 {
		cli, err := etcdclient.New(cfg.Etcd.Config)
		if err != nil {
			return nil, err
		}
		t.etcd = cli
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		if t.etcd != nil {
			_ = t.etcd.Close()
		}
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	t.kcl = cl
	t.adm = kadm.NewClient(cl)
	t.topics = kafkaclient.NewTopics(cl, cfg.Kafka.CreateTopics, t.m.TopicMissing, t.log)
	return t, nil
}

// Close releases the Kafka client, leaving the group. Run calls it when it
// returns; calling it again does nothing.
func (t *Transfer) Close() {
	t.closeOne.Do(func() {
		t.kcl.Close()
		if t.etcd != nil {
			_ = t.etcd.Close()
		}
	})
}

// CheckKafka is a readiness check: can a broker be reached? The error names
// the brokers.
func (t *Transfer) CheckKafka(ctx context.Context) error {
	return kafkaclient.Check(t.kcl, t.cfg.Kafka.Brokers)(ctx)
}

// CheckElasticsearch is a readiness check: has Run connected to
// Elasticsearch and installed the template, and does it answer now?
func (t *Transfer) CheckElasticsearch(ctx context.Context) error {
	es := t.es.Load()
	if es == nil || !t.connected.Load() {
		return errors.New("not connected yet")
	}
	for _, u := range t.cfg.Elasticsearch.URLs {
		_, code, err := es.Ping(u).Do(ctx)
		if err == nil && code == http.StatusOK {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return errors.New("no node answers")
}

// Run connects to Elasticsearch (retrying until it answers, with a log line
// per failure), installs the index template, then consumes until ctx is
// done. Then it stops fetching, finishes the batch in hand (giving up after
// shutdown_timeout: what was not accepted is not committed and is consumed
// again next time), commits, leaves the group and returns nil. Errors
// are returned only for failures that retrying cannot fix.
func (t *Transfer) Run(ctx context.Context) error {
	defer t.Close()
	defer func() {
		if es := t.es.Load(); es != nil {
			es.Stop() // its healthcheck and sniffer goroutines, if any
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	wg.Go(func() { t.lagLoop(lagCtx) })
	if t.etcd != nil {
		w := &topicWatcher{t: t, cli: t.etcd, key: t.cfg.Etcd.TopicsKey, current: make(map[string]bool)}
		for _, tp := range t.cfg.Kafka.Topics {
			w.current[tp] = true
		}
		wg.Go(func() { w.run(lagCtx) })
	}
	// The pipelines key is read before the first batch, so that a restart
	// does not index records with the config file's pipelines while etcd
	// defines others. If etcd cannot be read (10 s), the file's run until it
	// can.
	pipelinesRead := make(chan struct{})
	if t.etcd != nil {
		wg.Go(func() { t.watchPipelines(lagCtx, pipelinesRead) })
	} else {
		close(pipelinesRead)
	}

	if err := t.connect(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if t.cfg.Retention.MaxAge > 0 {
		wg.Go(func() { t.retentionLoop(lagCtx) })
	}
	select {
	case <-pipelinesRead:
	case <-ctx.Done():
		return nil
	}

	// hard is the context of the batch in hand: it outlives ctx by the
	// shutdown timeout.
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(t.cfg.ShutdownTimeout.D(), cancelHard)
	})
	defer stop()

	// The next batch is polled and its documents built while the one
	// before is indexed, so that Elasticsearch does not wait for logtransfer
	// between batches; at most two batches are held. Rebalances are allowed
	// only when none is (see kgo.OnPartitionsRevoked above), which a steady
	// stream gets every rebalanceEvery.
	var (
		inflight    chan bool // process's result for the batch being indexed; nil when none
		lastAllowed time.Time
	)
	finish := func() bool {
		ok := <-inflight
		inflight = nil
		if !ok {
			t.log.Warn("shutdown timeout: records not indexed stay uncommitted and will be consumed again",
				"shutdown_timeout", t.cfg.ShutdownTimeout.String())
		}
		return ok
	}
	for ctx.Err() == nil {
		if inflight != nil && time.Since(lastAllowed) >= rebalanceEvery && !finish() {
			break
		}
		if inflight == nil {
			t.kcl.AllowRebalance()
			lastAllowed = time.Now()
		}
		// With a batch in flight, the wait for a first record is bounded:
		// an idle stream must not keep a rebalance waiting.
		var firstWait time.Duration
		if inflight != nil {
			firstWait = t.cfg.Bulk.FlushInterval.D()
		}
		b := t.collect(ctx, firstWait)
		if inflight != nil && !finish() {
			break
		}
		if len(b.recs) == 0 {
			continue
		}
		done := make(chan bool, 1)
		inflight = done
		go func() { done <- t.process(hard, b) }()
	}
	if inflight != nil {
		finish()
	}
	t.kcl.AllowRebalance()
	t.log.Info("stopped consuming; leaving the group")
	return nil
}

// rebalanceEvery is how long a steady stream of batches may keep
// rebalances waiting: then Run lets the batch in hand finish before it polls.
const rebalanceEvery = 3 * time.Second

// batch is what collect polled: the records, their documents, the records
// a pipeline dropped (no document), and the partitions-lost generation
// before the poll.
type batch struct {
	recs    []*kgo.Record
	docs    []document
	dropped []*kgo.Record
	gen     uint64
}

// collect polls until it has bulk.actions × bulk.workers records or as many
// bytes, or bulk.flush_interval has passed since the first record, or ctx is
// done, and builds their documents with the pipelines running then. When
// firstWait is not 0, it gives up waiting for a first record after that
// long.
func (t *Transfer) collect(ctx context.Context, firstWait time.Duration) batch {
	maxRecs := t.cfg.Bulk.Actions * t.cfg.Bulk.Workers
	maxBytes := t.cfg.Bulk.Bytes * t.cfg.Bulk.Workers
	gen := t.lost.Load()
	var (
		recs     []*kgo.Record
		size     int
		deadline time.Time
	)
	for len(recs) < maxRecs && size < maxBytes {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		switch {
		case len(recs) > 0:
			pctx, cancel = context.WithDeadline(ctx, deadline)
		case firstWait > 0:
			pctx, cancel = context.WithTimeout(ctx, firstWait)
		}
		fetches := t.kcl.PollRecords(pctx, maxRecs-len(recs))
		cancel()
		if fetches.IsClientClosed() {
			break
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			if errors.Is(err, kerr.FencedInstanceID) {
				// The group keeps the newest member with an id: this one
				// stays out until the other stops.
				t.log.Error("another member of the group uses this kafka.instance_id: give each instance its own (or \"\" for none); this one gets no partitions meanwhile",
					"instance_id", *t.cfg.Kafka.InstanceID, "group", t.cfg.Kafka.Group, "err", err)
				return
			}
			t.log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		})
		var last *kgo.Record
		var run float64 // records of last.Topic not counted yet
		fetches.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			size += len(r.Value)
			if last != nil && r.Topic != last.Topic {
				t.consumed.get(last.Topic).Add(run)
				run = 0
			}
			last = r
			run++
		})
		if last != nil {
			t.consumed.get(last.Topic).Add(run)
		}
		if len(recs) == 0 {
			// Only errors (broker down, session lost): return, so that Run
			// allows the rebalance that rejoins the group before the next
			// poll. Polling again here would block that rebalance forever.
			break
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(t.cfg.Bulk.FlushInterval.D())
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
	}
	docs, dropped := t.buildDocuments(recs, t.pipes.Load())
	return batch{recs: recs, docs: docs, dropped: dropped, gen: gen}
}

// process indexes a batch and commits what was acknowledged. It reports
// whether every record was acknowledged; false means hard was cancelled
// first.
func (t *Transfer) process(hard context.Context, b batch) bool {
	tr := newAckTracker()
	for _, r := range b.recs {
		tr.add(r)
	}
	// A record a pipeline dropped on purpose is done: its offset may be
	// committed like that of an indexed one.
	for _, r := range b.dropped {
		tr.ack(r)
	}
	chunks := splitDocs(b.docs, t.cfg.Bulk.Actions, t.cfg.Bulk.Bytes)
	acked := make([][]*kgo.Record, len(chunks))
	var paused atomic.Bool
	pause := func() {
		if !paused.Swap(true) {
			t.kcl.PauseFetchPartitions(tr.partitions())
		}
	}
	var g errgroup.Group
	g.SetLimit(t.cfg.Bulk.Workers)
	for i, c := range chunks {
		g.Go(func() error {
			acked[i] = t.indexChunk(hard, c, pause)
			return nil
		})
	}
	_ = g.Wait()
	if paused.Load() {
		t.kcl.ResumeFetchPartitions(tr.partitions())
	}
	for _, a := range acked {
		for _, r := range a {
			tr.ack(r)
		}
	}
	t.commit(hard, tr, b.gen)
	return tr.pending() == 0
}

// commit commits the acknowledged prefix of every partition of tr, unless
// partitions were lost since the batch was polled.
func (t *Transfer) commit(ctx context.Context, tr *ackTracker, gen uint64) {
	recs := tr.committable()
	if len(recs) == 0 {
		return
	}
	if t.lost.Load() != gen {
		t.log.Warn("not committing: partitions were lost while the batch was indexed; its records will be consumed again")
		return
	}
	if ctx.Err() != nil {
		// The shutdown timeout has passed, but a commit of what was
		// indexed saves re-indexing it: give it a few seconds.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	if err := t.kcl.CommitRecords(ctx, recs...); err != nil {
		t.m.CommitErrors.Inc()
		t.log.Warn("commit failed; the records will be consumed and indexed again (same ids)", "err", err)
	}
}

// splitDocs cuts docs into bulk requests of at most actions documents and,
// unless a single document is larger, bytes bytes.
func splitDocs(docs []document, actions, bytes int) [][]document {
	var out [][]document
	start, size := 0, 0
	for i, d := range docs {
		n := d.bulkSize()
		if i > start && (i-start >= actions || size+n > bytes) {
			out = append(out, docs[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(docs) {
		out = append(out, docs[start:])
	}
	return out
}

// lagLoop refreshes logtransfer_consumer_lag and logtransfer_kafka_up,
// pings Elasticsearch for logtransfer_es_up (also while idle) and refreshes
// logtransfer_stall_seconds, every lagInterval until ctx is done.
func (t *Transfer) lagLoop(ctx context.Context) {
	tick := time.NewTicker(lagInterval)
	defer tick.Stop()
	for {
		t.refreshLag(ctx)
		t.pingElasticsearch(ctx)
		t.stalls.refresh()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (t *Transfer) refreshLag(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, lagInterval)
	defer cancel()
	lags, err := t.adm.Lag(ctx, t.cfg.Kafka.Group)
	if err == nil {
		err = lags.Error()
	}
	if err != nil {
		if ctx.Err() == nil {
			t.m.KafkaUp.Set(0)
			t.log.Debug("consumer lag refresh failed", "err", err)
		}
		return
	}
	t.m.KafkaUp.Set(1)
	t.m.ConsumerLag.Reset()
	for _, l := range lags {
		for _, ml := range l.Lag.Sorted() {
			if ml.Lag >= 0 {
				t.m.ConsumerLag.WithLabelValues(ml.Topic, strconv.Itoa(int(ml.Partition))).Set(float64(ml.Lag))
			}
		}
	}
}

// pingElasticsearch sets logtransfer_es_up once Run has connected.
func (t *Transfer) pingElasticsearch(ctx context.Context) {
	if !t.connected.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, lagInterval)
	defer cancel()
	if err := t.CheckElasticsearch(ctx); err != nil {
		if ctx.Err() == nil {
			t.m.ESUp.Set(0)
		}
		return
	}
	t.m.ESUp.Set(1)
}
