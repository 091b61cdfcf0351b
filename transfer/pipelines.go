package transfer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/esindex"
	"github.com/logcollect/logcollect/pipeline"
)

// Pipelines: which set runs, where it comes from, how a record goes through
// it, and its metrics.
//
// Two sources define pipelines: the config file (pipelines:, read at start
// and again on SIGHUP) and the etcd key etcd.pipelines_key (read, then
// watched). While the etcd key exists and holds a valid list, its set runs
// and the file's waits; when the key is deleted, the file's set runs again.
// A new set from either source is compiled first: an invalid one is
// rejected, logged naming the pipeline and processor, and counted, and the
// running set stays. A set is swapped atomically; each batch loads it once
// when its documents are built, so a batch keeps the set it was built with.

// Reload sources, the source label of logtransfer_pipeline_reloads_total.
const (
	reloadFile = "file"
	reloadEtcd = "etcd"
)

// pipelineSet is a compiled set of pipelines with each pipeline's metric
// children, looked up once per set instead of once per record.
type pipelineSet struct {
	set     *pipeline.Set // nil: no pipelines
	metrics map[*pipeline.Pipeline]*pipelineMetrics
}

// pipelineMetrics are the metric children of one pipeline.
type pipelineMetrics struct {
	events, dropped prometheus.Counter
	duration        prometheus.Observer
	errors          map[string]prometheus.Counter // by step id, pipeline.EncodeStep included
}

// failed counts an event the step id failed on.
func (pm *pipelineMetrics) failed(id string) {
	if c := pm.errors[id]; c != nil {
		c.Inc()
	}
}

// newPipelineSet builds the metric children of set's pipelines, which makes
// their series exist (at 0) from now on.
func (t *Transfer) newPipelineSet(set *pipeline.Set) *pipelineSet {
	ps := &pipelineSet{metrics: map[*pipeline.Pipeline]*pipelineMetrics{}}
	if set.Len() > 0 {
		ps.set = set
	}
	for _, p := range set.Pipelines() {
		name := p.Name()
		pm := &pipelineMetrics{
			events:   t.m.PipelineEvents.WithLabelValues(name),
			dropped:  t.m.PipelineDropped.WithLabelValues(name),
			duration: t.m.PipelineDuration.WithLabelValues(name),
			errors:   map[string]prometheus.Counter{},
		}
		for _, id := range append(p.Processors(), pipeline.EncodeStep) {
			pm.errors[id] = t.m.PipelineErrors.WithLabelValues(name, id)
		}
		ps.metrics[p] = pm
	}
	return ps
}

// stepIDs returns the step ids of each pipeline of ps, by name.
func (ps *pipelineSet) stepIDs() map[string][]string {
	out := map[string][]string{}
	if ps == nil {
		return out
	}
	for _, p := range ps.set.Pipelines() {
		out[p.Name()] = append(p.Processors(), pipeline.EncodeStep)
	}
	return out
}

// pipelineSources are the sets of the two sources, and which one runs.
type pipelineSources struct {
	mu       sync.Mutex    // held while a set is swapped
	file     *pipeline.Set // the config file's: at start, or the last good SIGHUP reload
	fromEtcd bool          // the etcd key holds a valid set, which runs
	etcdRead bool          // the etcd key was read once
}

// swapPipelines makes set run from the next batch on, and deletes the series
// of the pipelines (and steps) it does not have. psrc.mu must be held.
func (t *Transfer) swapPipelines(set *pipeline.Set) {
	next := t.newPipelineSet(set)
	old := t.pipes.Swap(next)
	kept := next.stepIDs()
	for name, ids := range old.stepIDs() {
		newIDs, ok := kept[name]
		if !ok {
			labels := prometheus.Labels{"pipeline": name}
			t.m.PipelineEvents.DeletePartialMatch(labels)
			t.m.PipelineErrors.DeletePartialMatch(labels)
			t.m.PipelineDropped.DeletePartialMatch(labels)
			t.m.PipelineDuration.DeletePartialMatch(labels)
			continue
		}
		for _, id := range ids {
			if !slices.Contains(newIDs, id) {
				t.m.PipelineErrors.DeleteLabelValues(name, id)
			}
		}
	}
}

// pipelineNames returns the names of set's pipelines, for logs.
func pipelineNames(set *pipeline.Set) []string {
	names := []string{}
	for _, p := range set.Pipelines() {
		names = append(names, p.Name())
	}
	return names
}

// ReloadPipelines replaces the pipelines of the config file with cfgs, as
// logtransfer does on SIGHUP. They run at once unless the etcd key defines
// the pipelines (then they run when the key is deleted). An invalid list is
// refused and counted, and the running set stays; the error names the
// pipeline and the processor. Safe for concurrent use.
func (t *Transfer) ReloadPipelines(cfgs []pipeline.Config) error {
	set, err := pipeline.NewSet(cfgs)
	if err != nil {
		t.m.PipelineReloads.WithLabelValues(reloadFile, "error").Inc()
		return fmt.Errorf("pipelines: %w", err)
	}
	t.psrc.mu.Lock()
	defer t.psrc.mu.Unlock()
	t.psrc.file = set
	t.m.PipelineReloads.WithLabelValues(reloadFile, "ok").Inc()
	if t.psrc.fromEtcd {
		t.log.Info("pipelines of the config file reloaded; the etcd key's run and take precedence while it exists",
			"pipelines", pipelineNames(set), "etcd_key", t.cfg.Etcd.PipelinesKey)
		return nil
	}
	t.swapPipelines(set)
	t.log.Info("pipelines reloaded from the config file", "pipelines", pipelineNames(set))
	return nil
}

// watchPipelines follows the etcd pipelines key until ctx is done; read is
// closed after the first read attempt.
func (t *Transfer) watchPipelines(ctx context.Context, read chan<- struct{}) {
	watchKey(ctx, t.etcd, t.cfg.Etcd.PipelinesKey, "pipelines", t.log, t.applyEtcdPipelines, func() { close(read) })
}

// applyEtcdPipelines applies a read or a change of the etcd pipelines key.
func (t *Transfer) applyEtcdPipelines(k keyState) {
	log := t.log.With("etcd_key", t.cfg.Etcd.PipelinesKey)
	if !k.exists {
		t.psrc.mu.Lock()
		defer t.psrc.mu.Unlock()
		first := !t.psrc.etcdRead
		t.psrc.etcdRead = true
		switch {
		case t.psrc.fromEtcd:
			t.psrc.fromEtcd = false
			t.swapPipelines(t.psrc.file)
			log.Warn("pipelines key deleted from etcd: the config file's pipelines run again", "pipelines", pipelineNames(t.psrc.file))
		case first:
			log.Info("no pipelines key in etcd: the config file's pipelines run", "pipelines", pipelineNames(t.psrc.file))
		}
		return
	}
	cfgs, err := pipeline.Parse(k.value)
	var set *pipeline.Set
	if err == nil {
		set, err = pipeline.NewSet(cfgs)
	}
	t.psrc.mu.Lock()
	defer t.psrc.mu.Unlock()
	t.psrc.etcdRead = true
	if err != nil {
		t.m.PipelineReloads.WithLabelValues(reloadEtcd, "error").Inc()
		running := "the config file's"
		if t.psrc.fromEtcd {
			running = "etcd's last valid"
		}
		log.Error("invalid pipelines in etcd: rejected, "+running+" pipelines keep running", "err", err.Error())
		return
	}
	t.m.PipelineReloads.WithLabelValues(reloadEtcd, "ok").Inc()
	t.psrc.fromEtcd = true
	t.swapPipelines(set)
	log.Info("pipelines from etcd applied; they replace the config file's while the key exists", "pipelines", pipelineNames(set))
}

// buildDocuments turns recs into documents: the records of a topic that has
// a pipeline in ps go through it (buildPipelineDocument), the others are
// built as they come (buildDocument). The records a pipeline dropped have no
// document and are returned apart: they are acknowledged without being
// indexed.
func (t *Transfer) buildDocuments(recs []*kgo.Record, ps *pipelineSet) (docs []document, dropped []*kgo.Record) {
	docs = make([]document, 0, len(recs))
	if ps == nil || ps.set == nil {
		for _, r := range recs {
			docs = append(docs, buildDocument(r, t.namer))
		}
		return docs, nil
	}
	var (
		topic  string
		p      *pipeline.Pipeline
		looked bool
		arena  bodyArena
	)
	for _, r := range recs {
		// Records come in runs of one topic: look its pipeline up once a run.
		if !looked || r.Topic != topic {
			topic, p, looked = r.Topic, ps.set.For(r.Topic), true
		}
		if p == nil {
			docs = append(docs, buildDocument(r, t.namer))
			continue
		}
		d, ok := buildPipelineDocument(r, t.namer, p, ps.metrics[p], &arena)
		if !ok {
			dropped = append(dropped, r)
			continue
		}
		docs = append(docs, d)
	}
	return docs, dropped
}

// buildPipelineDocument turns a record into a document through its
// pipeline (pipeline.BuildDocument, as `logctl pipeline test` does): the
// event of the record (the decoded JSON record, or {"message",
// "@timestamp"}, with event.ingested) as the pipeline leaves it, flagged if
// it failed, plus "kafka":{topic,partition,offset}. Its index follows the
// @timestamp the pipeline left (the read time if that is not an RFC 3339
// time), its id is the record's (docID), so a line sent again after
// midnight overwrites its document. ok is false when the pipeline dropped
// the event. The body is encoded into the arena's buffer. The build is
// observed in logtransfer_pipeline_duration_seconds:
// every one, since two clock reads and an observation do not show in
// BenchmarkBuildDocumentPipeline (a few tens of ns of ~5 µs).
func buildPipelineDocument(r *kgo.Record, namer *esindex.Template, p *pipeline.Pipeline, pm *pipelineMetrics, arena *bodyArena) (d document, ok bool) {
	start := time.Now()
	pm.events.Inc()
	pd := pipeline.BuildDocument(p, r.Value, r.Timestamp, func(e *pipeline.Event) { setKafkaField(e, r) },
		arena.next(2*len(r.Value)+len(r.Topic)+256)) // the parsed fields add about the line's size again
	if pd.Dropped {
		pm.dropped.Inc()
		pm.duration.Observe(time.Since(start).Seconds())
		return document{}, false
	}
	var perr *pipeline.ProcessorError
	var eerr *pipeline.EncodeError
	switch {
	case errors.As(pd.Err, &perr):
		pm.failed(perr.Processor)
	case errors.As(pd.Err, &eerr):
		pm.failed(pipeline.EncodeStep)
	}
	d = document{rec: r, id: docID(r), ts: pd.Read, body: arena.keep(pd.Body), index: namer.Name(r.Topic, pd.Time)}
	pm.duration.Observe(time.Since(start).Seconds())
	return d, true
}

// setKafkaField sets the event's "kafka" field to the record's coordinates,
// replacing the record's own, as buildDocument does.
func setKafkaField(e *pipeline.Event, r *kgo.Record) {
	e.Fields["kafka"] = map[string]any{"topic": r.Topic, "partition": int64(r.Partition), "offset": r.Offset}
}

// bodyArena hands out the buffers that pipeline documents are encoded into:
// consecutive pieces of one chunk of bodyChunk bytes, so that a batch's
// bodies cost one allocation per chunk (a few dozen documents) instead of
// one or two each (a body outgrew a buffer the record's size and was copied
// into a larger one). The documents of a batch are indexed, retried and
// dead-lettered together, so a chunk is held no longer than its documents
// are.
type bodyArena struct{ buf []byte }

// bodyChunk is the size of an arena's chunks.
const bodyChunk = 64 << 10

// next returns an empty buffer with room for about n bytes, to append one
// body to.
func (a *bodyArena) next(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(bodyChunk, n))
	}
	return a.buf[len(a.buf):len(a.buf)]
}

// keep takes body, appended to what next returned, and returns it without
// room beyond its length, so that appending to it cannot write over the
// next body. A body that outgrew its room was allocated on its own and
// leaves the chunk as it was.
func (a *bodyArena) keep(body []byte) []byte {
	n := len(a.buf)
	if len(body) > 0 && cap(a.buf) > n && &body[0] == &a.buf[:n+1][n] {
		a.buf = a.buf[:n+len(body)]
	}
	return body[:len(body):len(body)]
}
