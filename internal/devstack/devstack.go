package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/logcollect/logcollect/deploy"
	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/ctl"
	"github.com/logcollect/logcollect/internal/servers"
)

const (
	// Topic is the demo's Kafka topic of nginx lines; its documents go to the indices
	// demo-YYYY.MM.DD.
	Topic = "demo"
	// AppTopic is the topic of the JSON app log (indices demo_app-YYYY.MM.DD).
	AppTopic = "demo_app"
	// SyslogTopic is the topic of the syslog file (indices demo_syslog-YYYY.MM.DD).
	SyslogTopic = "demo_syslog"
	// IndexPattern matches the indices of every demo topic.
	IndexPattern = "demo*-*"
	// AgentIP is the demo agent's host.ip: its collect key is /logagent/127.0.0.1/collect_config.
	AgentIP = "127.0.0.1"
	// DefaultInfluxURL is where Start looks for an InfluxDB when Config.InfluxURL is empty.
	DefaultInfluxURL = "http://127.0.0.1:8086"

	readyTimeout  = 60 * time.Second
	daemonLogTail = 30
)

// Topics are the demo's topics, nginx first.
func Topics() []string { return []string{Topic, AppTopic, SyslogTopic} }

// Ports are the loopback ports of the stack. They are fixed, not picked at random, because
// the Kafka data dir records its controller's port and the agent's registration its metrics
// address: a second run on the same dir must reuse them.
type Ports struct {
	EtcdClient, EtcdPeer                      int
	Kafka, KafkaController                    int
	Elasticsearch, ElasticsearchTransport     int
	Logagent, Logtransfer, Sysmon, Prometheus int
}

// DefaultPorts are the services' usual ports, which logctl's defaults point at, so
// `logctl search` needs no flags. Prometheus gets 19090: Debian's package may run one on 9090.
func DefaultPorts() Ports {
	return Ports{
		EtcdClient: 2379, EtcdPeer: 2380,
		Kafka: 9092, KafkaController: 9093,
		Elasticsearch: 9200, ElasticsearchTransport: 9300,
		Logagent: 9101, Logtransfer: 9102, Sysmon: 9103, Prometheus: 19090,
	}
}

// Config is what Start runs.
type Config struct {
	Dir    string // all state; "" means "var"
	BinDir string // where logagent, logtransfer and sysmon are (`make build`); "" means "bin"
	// Embedded runs kfake, franz-go's in-process Kafka, instead of the real broker: a start in
	// seconds, its data in Dir/kfake.
	Embedded bool
	// Prometheus starts the prometheus binary on PATH with PrometheusYAML (normally
	// deploy/prometheus/prometheus.yml) pointed at the daemons.
	Prometheus     bool
	PrometheusYAML string
	// InfluxURL is sysmon's InfluxDB; "" means DefaultInfluxURL if one answers there, else
	// sysmon runs without an InfluxDB output (its metrics only). InfluxBucket ("" means
	// "telegraf/autogen") and InfluxToken are passed on.
	InfluxURL, InfluxBucket, InfluxToken string
	Ports                                Ports // zero means DefaultPorts()
	Rate                                 int   // demo lines per second; 0 means 50
	// RotateBytes is the size beyond which the demo log is rotated; 0 means 4 MiB.
	RotateBytes int64
}

func (c *Config) setDefaults() {
	if c.Dir == "" {
		c.Dir = "var"
	}
	if c.BinDir == "" {
		c.BinDir = "bin"
	}
	if c.Ports == (Ports{}) {
		c.Ports = DefaultPorts()
	}
	if c.Rate <= 0 {
		c.Rate = 50
	}
	if c.RotateBytes <= 0 {
		c.RotateBytes = 4 << 20
	}
	if c.InfluxBucket == "" {
		c.InfluxBucket = "telegraf/autogen"
	}
	if c.PrometheusYAML == "" {
		c.PrometheusYAML = filepath.Join("deploy", "prometheus", "prometheus.yml")
	}
}

// Stack is a running local pipeline. Stop stops it. Stop must not run concurrently with the
// other methods, which only read.
type Stack struct {
	cfg     Config
	etcd    *servers.Etcd
	kafka   *servers.Kafka // nil when embedded
	kfake   *kfake.Cluster // nil unless embedded
	es      *servers.Elasticsearch
	prom    *servers.Prometheus
	daemons []*daemon    // in start order
	gens    []*Generator // nginx, app, syslog
	stopGen context.CancelFunc
	genDone chan error // gets the generators' result
}

// daemon is one of the pipeline's binaries, run as a child process.
type daemon struct {
	name string
	addr string // metrics listen address
	note string // what the summary says besides its log, "" for nothing
	proc servers.Proc
	run  *servers.Run
}

// Start starts the stack and returns once every part is ready, the demo generator writing.
// On error what was started is stopped again. ctx bounds the start only; Stop ends the stack.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	cfg.setDefaults()
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	cfg.Dir = dir
	for _, d := range []string{"log", "config", "demo", "agent"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
	}
	if err := checkMode(dir, cfg.Embedded); err != nil {
		return nil, err
	}
	s := &Stack{cfg: cfg}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop())
		}
	}()
	if err := s.startServers(ctx); err != nil {
		return nil, err
	}
	if err := s.putDemoConfig(ctx); err != nil {
		return nil, err
	}
	if err := s.startDaemons(ctx); err != nil {
		return nil, err
	}
	if cfg.Prometheus {
		if err := s.startPrometheus(ctx); err != nil {
			return nil, err
		}
	}
	// The app log at a fifth of the rate, syslog at a tenth, in batches of a few lines.
	s.gens = []*Generator{
		{Path: s.DemoLog(), Line: NginxLine, Rate: cfg.Rate, Interval: 100 * time.Millisecond, MaxBytes: cfg.RotateBytes},
		{Path: s.AppLog(), Line: AppLine, Rate: max(1, cfg.Rate/5), Interval: 500 * time.Millisecond, MaxBytes: cfg.RotateBytes},
		{Path: s.SyslogFile(), Line: SyslogLine, Rate: max(1, cfg.Rate/10), Interval: time.Second, MaxBytes: cfg.RotateBytes},
	}
	genCtx, cancel := context.WithCancel(context.Background())
	s.stopGen, s.genDone = cancel, make(chan error, 1)
	go func() {
		var g errgroup.Group
		for _, gen := range s.gens {
			g.Go(func() error { return gen.Run(genCtx) })
		}
		s.genDone <- g.Wait()
	}()
	return s, nil
}

// checkMode records in dir which Kafka the stack runs on, and refuses the other one: the
// agent's offsets would skip lines the new Kafka never had.
func checkMode(dir string, embedded bool) error {
	mode := "kafka"
	if embedded {
		mode = "kfake"
	}
	name := filepath.Join(dir, "kafka-mode")
	b, err := os.ReadFile(name)
	switch {
	case err == nil && strings.TrimSpace(string(b)) != mode:
		return fmt.Errorf("devstack: %s holds the state of a stack on %s, not %s: use the same mode (EMBEDDED=1 or not), or remove %s", dir, strings.TrimSpace(string(b)), mode, dir)
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("devstack: %w", err)
	}
	if err := os.WriteFile(name, []byte(mode+"\n"), 0o644); err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	return nil
}

// startServers starts etcd, then Kafka and Elasticsearch side by side (two JVMs that mostly
// wait on class loading).
func (s *Stack) startServers(ctx context.Context) error {
	p := s.cfg.Ports
	var err error
	if s.etcd, err = servers.NewEtcd(servers.EtcdConfig{Dir: s.path("etcd"), ClientPort: p.EtcdClient, PeerPort: p.EtcdPeer}); err != nil {
		return err
	}
	if err := s.etcd.Start(); err != nil {
		return err
	}
	if s.es, err = servers.NewElasticsearch(servers.ElasticsearchConfig{
		Dir: s.path("elasticsearch"), Port: p.Elasticsearch, TransportPort: p.ElasticsearchTransport, ClusterName: "logcollect-dev",
	}); err != nil {
		return err
	}
	if !s.cfg.Embedded {
		if s.kafka, err = servers.NewKafka(servers.KafkaConfig{Dir: s.path("kafka"), Port: p.Kafka, ControllerPort: p.KafkaController}); err != nil {
			return err
		}
	}
	var g errgroup.Group
	g.Go(func() error { return s.es.Start(ctx) })
	if s.kafka != nil {
		g.Go(func() error { return s.kafka.Start(ctx) })
	} else {
		s.kfake, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(p.Kafka), kfake.DataDir(s.path("kfake")),
			kfake.AllowAutoTopicCreation(), kfake.SeedTopics(1, Topics()...))
		if err != nil {
			_ = g.Wait()
			return fmt.Errorf("kfake: %w", err)
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return s.createTopic(ctx)
}

// createTopic creates the demo topics up front, so logtransfer's consumer finds them at once
// instead of after a metadata refresh.
func (s *Stack) createTopic(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers()...))
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, nil, Topics()...)
	if err != nil {
		return fmt.Errorf("kafka: create topics: %w", err)
	}
	for _, resp := range resps.Sorted() {
		if resp.Err != nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", resp.Topic, resp.Err)
		}
	}
	return nil
}

// putDemoConfig puts the demo collect config into etcd unless the key exists: a config an
// operator changed with `logctl config set` survives a restart. The one default of earlier
// runs is replaced. It also puts the demo topics under logtransfer's topics key unless it
// exists.
func (s *Stack) putDemoConfig(ctx context.Context) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: s.etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer cli.Close()
	key := CollectKey()
	var tasks []string
	for i, path := range []string{s.DemoLog(), s.AppLog(), s.SyslogFile()} {
		tasks = append(tasks, fmt.Sprintf(`{"path": %q, "topic": %q, "start_position": "beginning", "fields": {"env": "dev"}}`, path, Topics()[i]))
	}
	val := "[" + strings.Join(tasks, ", ") + "]"
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The config of a state dir from before the app log and syslog (every demo/*.log to
	// one topic) would ship app.log as nginx lines: it is replaced like a missing one.
	legacy := fmt.Sprintf(`[{"path": %q, "topic": %q, "start_position": "beginning", "fields": {"env": "dev"}}]`,
		filepath.Join(s.path("demo"), "*.log"), Topic)
	_, err = cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(clientv3.OpPut(key, val)).
		Else(clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value(key), "=", legacy)}, []clientv3.Op{clientv3.OpPut(key, val)}, nil)).
		Commit()
	if err != nil {
		return fmt.Errorf("etcd: put %s: %w", key, err)
	}
	// logtransfer's topics key lists the demo topics, as a deployment's does (docker-compose.yml's
	// etcd-init): `logctl config set` then adds only the new topics of the tasks it writes.
	topics, err := json.Marshal(Topics())
	if err != nil {
		return err
	}
	_, err = cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(ctl.DefaultTopicsKey), "=", 0)).
		Then(clientv3.OpPut(ctl.DefaultTopicsKey, string(topics))).Commit()
	if err != nil {
		return fmt.Errorf("etcd: put %s: %w", ctl.DefaultTopicsKey, err)
	}
	return nil
}

// CollectKey is the demo agent's collect config key in etcd.
func CollectKey() string { return "/logagent/" + AgentIP + "/collect_config" }

// startDaemons writes the daemons' configs and starts logtransfer, logagent and sysmon; each
// must answer /readyz.
func (s *Stack) startDaemons(ctx context.Context) error {
	influx, influxNote := s.influx(ctx)
	p := s.cfg.Ports
	brokers, etcd := yamlList(s.Brokers()), yamlList(s.etcd.Endpoints())
	type spec struct {
		name, config string
		port         int
		note         string
	}
	sysmon := spec{name: "sysmon", port: p.Sysmon, note: influxNote, config: sysmonMetricsOnlyYAML}
	if influx != "" {
		sysmon.config = fmt.Sprintf(sysmonYAML, influx, s.cfg.InfluxBucket, s.cfg.InfluxToken)
	}
	specs := []spec{
		{name: "logtransfer", port: p.Logtransfer,
			config: fmt.Sprintf(transferYAML, brokers, yamlList(Topics()), yamlList([]string{s.es.URL()}), Topic, AppTopic, SyslogTopic, etcd)},
		{name: "logagent", config: fmt.Sprintf(agentYAML, brokers, etcd, AgentIP, s.path("agent"), s.path()), port: p.Logagent},
		sysmon,
	}
	for _, sp := range specs {
		d := &daemon{name: sp.name, addr: fmt.Sprintf("127.0.0.1:%d", sp.port), note: sp.note}
		d.proc = servers.Proc{Name: sp.name, Noun: "process", Log: s.path("log", sp.name+".log"), TailLines: daemonLogTail}
		conf := s.path("config", sp.name+".yaml")
		if err := os.WriteFile(conf, []byte(sp.config+fmt.Sprintf(commonYAML, d.addr)), 0o644); err != nil {
			return fmt.Errorf("devstack: %w", err)
		}
		run, err := d.proc.Start(exec.Command(filepath.Join(s.cfg.BinDir, sp.name), "-config", conf))
		if err != nil {
			return fmt.Errorf("%w (run `make build` first)", err)
		}
		d.run = run
		if err := waitReady(ctx, d); err != nil {
			_ = d.proc.Stop(syscall.SIGTERM)
			return err
		}
		s.daemons = append(s.daemons, d)
	}
	return nil
}

// influx returns sysmon's InfluxDB URL, "" for none, and what the summary says about it:
// Config.InfluxURL when given, else DefaultInfluxURL when an InfluxDB answers its /ping.
func (s *Stack) influx(ctx context.Context) (url, note string) {
	switch {
	case s.cfg.InfluxURL != "":
		return s.cfg.InfluxURL, "writes to InfluxDB " + config.RedactURL(s.cfg.InfluxURL) + " (INFLUX_URL)"
	case pingInflux(ctx, DefaultInfluxURL):
		return DefaultInfluxURL, "writes to InfluxDB " + DefaultInfluxURL + " (found there)"
	default:
		return "", "metrics only: no InfluxDB at " + DefaultInfluxURL + " (give one with INFLUX_URL=...)"
	}
}

func (s *Stack) startPrometheus(ctx context.Context) error {
	p := s.cfg.Ports
	targets := map[string][]string{}
	for name, port := range map[string]int{"logagent": p.Logagent, "logtransfer": p.Logtransfer, "sysmon": p.Sysmon} {
		targets[name] = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	}
	conf, err := deploy.PrometheusConfig(s.cfg.PrometheusYAML, deploy.PrometheusOverrides{Targets: targets, ScrapeInterval: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("prometheus: %w", err)
	}
	if s.prom, err = servers.NewPrometheus(servers.PrometheusConfig{Dir: s.path("prometheus"), Port: p.Prometheus, Config: conf}); err != nil {
		return err
	}
	return s.prom.Start(ctx)
}

// waitReady polls the daemon's /readyz until it answers 200, the daemon exits or
// readyTimeout passes.
func waitReady(ctx context.Context, d *daemon) error {
	err := d.run.WaitReady(ctx, d.name, readyTimeout, 100*time.Millisecond,
		servers.HTTPStatus(&http.Client{}, "http://"+d.addr+"/readyz", http.StatusOK))
	if err != nil {
		return fmt.Errorf("%w (log %s)\n%s", err, d.proc.Log, d.proc.LogTail())
	}
	return nil
}

// pingInflux reports whether an InfluxDB answers /ping at url.
func pingInflux(ctx context.Context, url string) bool {
	return servers.HTTPStatus(&http.Client{}, url+"/ping", http.StatusNoContent)(ctx) == nil
}

// Stop is StopReport without the report.
func (s *Stack) Stop() error { return s.StopReport(io.Discard) }

// StopReport stops the stack, sources first so the sinks can drain: the generators, then,
// once the pipeline has delivered what they wrote (up to drainTimeout), the daemons in
// reverse start order (logagent before logtransfer; each gets SIGTERM and is waited for, and
// is killed after 15 s), then Prometheus, Elasticsearch, Kafka and etcd. It writes to w the
// final counts and each part it stopped, and returns every error met.
func (s *Stack) StopReport(w io.Writer) error {
	var errs []error
	report := func(what string, err error) {
		if err != nil {
			fmt.Fprintf(w, "stopped %s: %v\n", what, err)
			errs = append(errs, err)
			return
		}
		fmt.Fprintf(w, "stopped %s\n", what)
	}
	if s.stopGen != nil {
		s.stopGen()
		report("the demo generators", <-s.genDone)
		s.stopGen = nil
	}
	if len(s.daemons) > 0 {
		p, drained := s.drain(drainTimeout)
		note := ""
		if !drained {
			note = fmt.Sprintf(" (not all delivered after %s: the rest is delivered at the next run)", drainTimeout)
		}
		fmt.Fprintf(w, "final counts: %s%s\n", p, note)
	}
	for i := len(s.daemons) - 1; i >= 0; i-- {
		d := s.daemons[i]
		report(d.name+" (SIGTERM, drained)", d.proc.Stop(syscall.SIGTERM))
	}
	s.daemons = nil
	if s.prom != nil {
		report("prometheus", s.prom.Stop())
	}
	if s.es != nil {
		report("elasticsearch", s.es.Stop())
	}
	if s.kafka != nil {
		report("kafka", s.kafka.Stop())
	}
	if s.kfake != nil {
		s.kfake.Close()
		report("kfake", nil)
	}
	if s.etcd != nil {
		s.etcd.Stop()
		report("etcd", nil)
	}
	return errors.Join(errs...)
}

// drainTimeout bounds the wait of StopReport for the pipeline to deliver the last lines.
const drainTimeout = 10 * time.Second

// drain waits up to timeout until the agent has shipped every line of its files and
// logtransfer has indexed as many documents as the agent sent, and returns the counts then,
// and whether it got there.
func (s *Stack) drain(timeout time.Duration) (Progress, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		p := s.Progress(ctx)
		if lag := s.metric(ctx, "logagent", "logagent_lag_bytes"); lag == 0 && p.Sent >= 0 && p.Indexed >= p.Sent {
			return p, true
		}
		select {
		case <-ctx.Done():
			return s.Progress(context.Background()), false
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Brokers returns the Kafka bootstrap address.
func (s *Stack) Brokers() []string {
	if s.kfake != nil {
		return s.kfake.ListenAddrs()
	}
	return s.kafka.Brokers()
}

// Dir returns the absolute directory of the stack's state; the processes' logs are in its
// log subdirectory.
func (s *Stack) Dir() string { return s.cfg.Dir }

// EtcdEndpoints returns etcd's client URLs.
func (s *Stack) EtcdEndpoints() []string { return s.etcd.Endpoints() }

// ElasticsearchURL returns Elasticsearch's HTTP URL.
func (s *Stack) ElasticsearchURL() string { return s.es.URL() }

// DemoLog returns the path of the nginx access log the demo generator writes.
func (s *Stack) DemoLog() string { return s.path("demo", "access.log") }

// AppLog returns the path of the JSON app log the demo generator writes.
func (s *Stack) AppLog() string { return s.path("demo", "app.log") }

// SyslogFile returns the path of the syslog file the demo generator writes.
func (s *Stack) SyslogFile() string { return s.path("demo", "syslog") }

// Generated returns how many lines the demo generators have written in this run, in all
// files.
func (s *Stack) Generated() int64 {
	var n int64
	for _, g := range s.gens {
		n += g.Lines()
	}
	return n
}

// MetricsAddr returns the metrics address of a running daemon ("logagent", "logtransfer",
// "sysmon"), or "" if it is not running.
func (s *Stack) MetricsAddr(name string) string {
	for _, d := range s.daemons {
		if d.name == name {
			return d.addr
		}
	}
	return ""
}

func (s *Stack) path(elem ...string) string {
	return filepath.Join(append([]string{s.cfg.Dir}, elem...)...)
}

// yamlList is a YAML flow list of quoted strings.
func yamlList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = fmt.Sprintf("%q", v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
