package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/kafkaclient"
)

// Agent runs the collect tasks of one host and ships their lines to Kafka.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	m        *Metrics
	reg      *Registry
	prod     Producer
	ship     *shipper
	topics   *kafkaclient.Topics // nil with a fake producer
	claims   *claims
	slots    readSlots
	limit    *harvesterLimit
	watcher  *fileWatcher // set by Run; nil without inotify
	policy   *collect.Policy
	hostName string
	hostIP   string
	// pingEvery is the period of watchKafka's metadata request.
	pingEvery time.Duration

	updates chan applyRequest
	done    chan struct{} // closed when Run returns
}

type applyRequest struct {
	tasks  []collect.Task
	source string
	result chan error
}

// newTopics returns what creates the tasks' topics (kafka.create_topics) and
// reports missing ones, through the admin API of the producer's client: nil
// when prod is a test's fake, which has none.
func newTopics(prod Producer, cfg Config, m *Metrics, log *slog.Logger) *kafkaclient.Topics {
	cl, ok := prod.(*kgo.Client)
	if !ok {
		return nil
	}
	return kafkaclient.NewTopics(cl, cfg.Kafka.CreateTopics, m.TopicMissing, log)
}

// New validates cfg (see Config.Validate), opens the offset registry in
// cfg.DataDir and registers the agent's metrics with reg. prod is the Kafka
// client (or a fake in tests); it stays owned by the caller, who closes it
// after Run.
func New(cfg Config, prod Producer, log *slog.Logger, reg prometheus.Registerer) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := NewMetrics(reg)
	topics := newTopics(prod, cfg, m, log)
	offsets, err := OpenRegistry(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	policy, err := collect.NewPolicy(cfg.Files.AllowedPaths, cfg.Kafka.AllowedTopics)
	if err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:       cfg,
		policy:    policy,
		log:       log,
		m:         m,
		reg:       offsets,
		prod:      prod,
		ship:      newShipper(prod, newLimiter(cfg.Kafka.MaxBufferedRecords, cfg.Kafka.MaxBufferedBytes), newKafkaUp(m.KafkaUp), topics, log),
		topics:    topics,
		pingEvery: 5 * time.Second,
		claims:    &claims{owner: make(map[fileID]string)},
		slots:     newReadSlots(readPasses()),
		limit:     newHarvesterLimit(cmp.Or(cfg.Files.MaxOpenFiles, defaultMaxOpenFiles()), m, log),
		hostName:  cfg.Host.Name,
		hostIP:    cfg.Host.IP,
		updates:   make(chan applyRequest),
		done:      make(chan struct{}),
	}
	if a.hostName == "" {
		if a.hostName, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("host name: %w (set host.name)", err)
		}
	}
	if a.hostIP == "" {
		if a.hostIP, err = OutboundIP(cfg.Kafka.Brokers[0]); err != nil {
			return nil, fmt.Errorf("host ip: %w (set host.ip)", err)
		}
	}
	return a, nil
}

// HostIP is the IP the agent reports and uses in its etcd keys.
func (a *Agent) HostIP() string { return a.hostIP }

// Metrics returns the agent's metrics, which New registered: the etcd
// source (EtcdSource) counts its reloads and etcd's state in them.
func (a *Agent) Metrics() *Metrics { return a.m }

// Policy is what the files.allowed_paths and kafka.allowed_topics of the
// config allow: the EtcdSource refuses a config outside it, and the agent
// checks every file of a task from etcd against it when opening it.
func (a *Agent) Policy() *collect.Policy { return a.policy }

// HostName is the host name the agent reports.
func (a *Agent) HostName() string { return a.hostName }

// OutboundIP returns the local IPv4 address of the route to addr (host:port),
// without sending a packet: a UDP "connect" only selects the route.
func OutboundIP(addr string) (string, error) {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return "", fmt.Errorf("route to %s: %w", addr, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

// ErrStopped is returned by Apply after Run has returned.
var ErrStopped = errors.New("agent stopped")

// Apply replaces the running tasks with tasks: new ones start, removed ones
// stop (their records in flight are still delivered and committed), changed
// ones restart. It returns once the change is in effect. Safe for concurrent
// use; Run must be running.
//
// source says where tasks come from. Only tasks of source "file" (the
// config file) are trusted: the files of tasks from any other source are
// opened only when they resolve inside files.allowed_paths (see
// openLogFile); checking a remote config itself against the policy before
// applying it is its source's job (EtcdSource).
func (a *Agent) Apply(tasks []collect.Task, source string) error {
	req := applyRequest{tasks: tasks, source: source, result: make(chan error, 1)}
	select {
	case a.updates <- req:
	case <-a.done:
		return ErrStopped
	}
	select {
	case err := <-req.result:
		return err
	case <-a.done:
		return ErrStopped
	}
}

type runningTask struct {
	task   collect.Task
	cancel context.CancelFunc
	done   chan struct{}
}

// Run runs the tasks given to Apply until ctx is cancelled, then stops
// reading, waits up to shutdown_timeout for Kafka to acknowledge what is in
// flight, and saves the offset registry.
func (a *Agent) Run(ctx context.Context) error {
	defer close(a.done)
	defer a.slots.work()() // the workers stop after the tasks (shutdown)
	var wg sync.WaitGroup
	defer wg.Wait()
	if fw, err := newFileWatcher(a.log); err == nil {
		a.watcher = fw
		defer fw.close() // after the tasks have stopped (shutdown)
	} else {
		a.log.Warn("files are polled", "err", err)
	}
	if p, ok := a.prod.(interface{ Ping(context.Context) error }); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.watchKafka(ctx, p.Ping)
		}()
	}

	runners := make(map[string]*runningTask)
	save := time.NewTicker(time.Second)
	defer save.Stop()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	saveFailing := false
	var idle idleMemory
	for {
		select {
		case req := <-a.updates:
			req.result <- a.apply(ctx, runners, req.tasks, req.source)
		case <-save.C:
			recs, bytes := a.ship.lim.buffered()
			a.m.BufferedRecords.Set(float64(recs))
			a.m.BufferedBytes.Set(float64(bytes))
			err := a.saveRegistry()
			if err != nil && !saveFailing {
				a.log.Error("cannot save the offset registry; offsets are kept in memory and saved when possible", "path", a.reg.Path(), "err", err)
			} else if err == nil && saveFailing {
				a.log.Info("offset registry saved again", "path", a.reg.Path())
			}
			saveFailing = err != nil
			if idle.check(time.Now()) {
				a.log.Debug("idle after reading: memory returned to the system")
			}
		case <-prune.C:
			if n := a.reg.prune(time.Now(), a.cfg.Files.CleanRemoved.D()); n > 0 {
				a.log.Info("forgot files gone longer than clean_removed", "files", n)
			}
		case <-ctx.Done():
			return a.shutdown(runners)
		}
	}
}

// idleMemory gives the memory of a burst back to the system once the agent
// is idle: no read pass for idleAfter. The Go runtime returns free memory by
// itself only slowly, paced by the heap goal of its last collection, and an
// idle agent runs no collection: after a backlog, its RSS would stay at the
// backlog's peak for minutes. Two forced collections per burst are cheap:
// what the sync.Pools hold (read buffers, arena blocks, the producer's and
// the compressor's buffers) survives one collection in their victim caches,
// and is freed by the second.
type idleMemory struct {
	passes uint64
	since  time.Time
	freed  bool
}

const idleAfter = 10 * time.Second

// check returns memory to the system if the agent has been idle for
// idleAfter since its last burst, and reports whether it did.
func (m *idleMemory) check(now time.Time) bool {
	if n := readPassCount.Load(); n != m.passes || m.since.IsZero() {
		m.passes, m.since, m.freed = n, now, false
		return false
	}
	if m.freed || now.Sub(m.since) < idleAfter {
		return false
	}
	runtime.GC()
	debug.FreeOSMemory()
	m.freed = true
	return true
}

func (a *Agent) saveRegistry() error {
	err := a.reg.Save()
	result := "ok"
	if err != nil {
		result = "error"
	}
	a.m.RegistryWrites.WithLabelValues(result).Inc()
	return err
}

func (a *Agent) shutdown(runners map[string]*runningTask) error {
	for _, r := range runners {
		r.cancel()
	}
	for _, r := range runners {
		<-r.done
	}
	deadline := time.Now().Add(a.cfg.ShutdownTimeout.D())
	for {
		recs, _ := a.ship.lim.buffered()
		if recs == 0 {
			break
		}
		if time.Now().After(deadline) {
			a.log.Warn("shutdown timeout: records not acknowledged by Kafka will be read again at the next start", "records", recs)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := a.saveRegistry(); err != nil {
		return fmt.Errorf("save offset registry: %w", err)
	}
	a.log.Info("agent stopped, offsets saved", "registry", a.reg.Path())
	return nil
}

func (a *Agent) apply(ctx context.Context, runners map[string]*runningTask, tasks []collect.Task, source string) error {
	desired := make(map[string]collect.Task, len(tasks))
	for _, t := range tasks {
		desired[t.Path] = t
	}
	var added, removed, changed int
	for path, r := range runners {
		d, ok := desired[path]
		if ok && d.Equal(r.task) {
			continue
		}
		r.cancel()
		<-r.done
		delete(runners, path)
		if !ok || d.Topic != r.task.Topic {
			a.m.deleteTask(r.task.Path, r.task.Topic)
		}
		if ok {
			changed++
		} else {
			removed++
		}
	}
	for path, t := range desired {
		if _, ok := runners[path]; ok {
			continue
		}
		runners[path] = a.start(ctx, t, source != "file")
		added++
	}
	added -= changed
	a.m.Tasks.Set(float64(len(runners)))
	a.log.Info("collect config applied", "source", source, "tasks", len(runners), "added", added, "removed", removed, "changed", changed)
	return nil
}

// start runs t; restricted: its files are checked against the policy.
func (a *Agent) start(ctx context.Context, t collect.Task, restricted bool) *runningTask {
	ctx, cancel := context.WithCancel(ctx)
	enc := newEncoder(t.Format, a.hostName, a.hostIP, t.Fields)
	overhead := 0 // room for the JSON envelope around the message
	if !enc.raw {
		overhead = len(enc.prefix) + len(enc.fields) + len(t.Path) + 128
	}
	tr := &taskRunner{
		task:        t,
		files:       a.cfg.Files,
		enc:         enc,
		encOverhead: overhead,
		filter:      newLineFilter(t),
		ship:        a.ship,
		reg:         a.reg,
		claims:      a.claims,
		watcher:     a.watcher,
		slots:       a.slots,
		passGap:     min(a.cfg.Kafka.Linger.D()/2, maxPassGap),
		limit:       a.limit,
		tm:          newTaskMetrics(a.m, t.Path, t.Topic),
		log:         a.log.With("task", t.Path, "topic", t.Topic),
		rescan:      make(chan struct{}, 1),
		admitted:    make(chan struct{}, 1),
		harvesters:  make(map[fileID]*harvester),
		reported:    make(map[string]string),
	}
	if restricted {
		tr.policy = a.policy
	}
	a.m.LagBytes.Track(t.Path, t.Topic, func() float64 { return float64(a.reg.lag(t.Path)) })
	r := &runningTask{task: t, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		// Before the first record: with kafka.create_topics the topic is
		// there by then. A failure is only logged: the records wait and
		// are sent again, and the topic's missing gauge says why.
		if err := a.topics.Ensure(ctx, t.Topic); err != nil && ctx.Err() == nil {
			tr.log.Error("cannot create the task's topic", "err", err)
		}
		tr.run(ctx)
	}()
	return r
}

// watchKafka keeps logagent_kafka_up current with a metadata request every
// pingEvery, besides the acknowledgements (see kafkaUp).
func (a *Agent) watchKafka(ctx context.Context, ping func(context.Context) error) {
	t := time.NewTicker(a.pingEvery)
	defer t.Stop()
	wasUp := true
	for {
		pctx, cancel := context.WithTimeout(ctx, min(4*time.Second, a.pingEvery))
		err := ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		up := a.ship.up.ping(err)
		switch {
		case !up && wasUp:
			a.log.Warn("kafka unreachable; lines wait in the files and the bounded buffer", "brokers", a.cfg.Kafka.Brokers, "err", err)
		case up && !wasUp:
			a.log.Info("kafka reachable again")
		}
		wasUp = up
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
