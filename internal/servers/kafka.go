package servers

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

//go:embed kafka/pom.xml
var kafkaPOM string

// KafkaVersion is pinned in kafka/pom.xml, which fetch.sh resolves.
var KafkaVersion = regexp.MustCompile(`<kafka.version>(.+)</kafka.version>`).FindStringSubmatch(kafkaPOM)[1]

const (
	kafkaFetchHint    = "run `bash internal/servers/kafka/fetch.sh` (needs mvn and Java 17+)"
	kafkaReadyTimeout = 60 * time.Second
	kafkaLogTail      = 50 // lines of the broker log shown when something fails
)

// kafkaProps is the broker's server.properties: %[1]d is the client port, %[2]d the controller
// port, %[3]s the data dir, %[4]d the node id and %[5]s the quorum line (see quorumProp).
//
// Gotchas:
//   - `StorageTool format --standalone` refuses controller.quorum.voters: it wants
//     controller.quorum.bootstrap.servers (a dynamic KRaft quorum). A cluster's nodes are
//     formatted without --standalone and share a static controller.quorum.voters.
//   - format stores the controller's endpoint in the data dir, and clients learn the advertised
//     one: a restart must reuse both ports.
//   - The internal topics default to replication factor 3 (share coordinator) and 50
//     partitions, which a single node cannot host or is slow to create.
const kafkaProps = `process.roles=broker,controller
node.id=%[4]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
%[5]s
log.dirs=%[3]s
num.partitions=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
num.network.threads=2
num.io.threads=2
# After a SIGKILL the controller (restarted too) keeps the dead broker's registration until its
# session expires (default 9 s): the new broker gets DUPLICATE_BROKER_REGISTRATION until then.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
# The log cleaner allocates this at startup (default 128 MiB).
log.cleaner.dedupe.buffer.size=4194304
`

// kafkaClusterProps replace the single node's replication settings in a cluster of %[1]d
// nodes: the internal topics replicated to every node, the topics created without a
// replication factor too, and writes with acks=all wait for a majority (%[2]d) of the
// replicas, so a cluster keeps taking them with one node down (of 3).
const kafkaClusterProps = `offsets.topic.replication.factor=%[1]d
transaction.state.log.replication.factor=%[1]d
transaction.state.log.min.isr=%[2]d
share.coordinator.state.topic.replication.factor=%[1]d
share.coordinator.state.topic.min.isr=%[2]d
default.replication.factor=%[1]d
min.insync.replicas=%[2]d
`

// kafkaLog4j sends the broker's log4j output to stdout, which goes to the log file. The
// config dumps (hundreds of lines per internal client) are left out.
const kafkaLog4j = `appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.out.ref=out
logger.config.name=org.apache.kafka.common.config.AbstractConfig
logger.config.level=WARN
`

// KafkaConfig says where a broker keeps its state and which ports it listens on.
type KafkaConfig struct {
	// Dir holds server.properties, log4j2.properties, broker.log and data/. A dir whose data/
	// was formatted by an earlier run is reused: the broker resumes with its topics and
	// offsets. Required.
	Dir string
	// Port is the client listener's, ControllerPort the KRaft controller's, both on
	// 127.0.0.1. Required, distinct, and the same on every run with the same Dir: the
	// formatted data records the controller's endpoint.
	Port, ControllerPort int
	// Libs is the directory of the broker's jars; "" means KafkaLibs().
	Libs string
	// ExtraProps is appended to the generated server.properties: a key given again overrides
	// the default (Java properties keep the last), e.g. more listeners with TLS or SASL.
	ExtraProps string
	// NodeID is the node's id in its cluster; 0 means 1, a single node's.
	NodeID int
	// Voters makes the node one of a cluster: the static KRaft quorum of every node of the
	// cluster (each a combined broker and controller), as controller.quorum.voters wants it:
	// "1@127.0.0.1:9093,2@127.0.0.1:9095,…" (see KafkaVoters). The cluster's replication
	// settings (kafkaClusterProps) come with it. "" means a single node, formatted
	// --standalone.
	Voters string
	// ClusterID is the id the data dir is formatted with, the same on every node of a
	// cluster (see NewKafkaClusterID); "" means a new one. Ignored when the data dir is
	// formatted already.
	ClusterID string
	// Tuned runs the JVM as kafka-server-start.sh does (G1, C2 JIT, a 1 GiB heap) instead
	// of the fast-start flags: for benchmarks, which measure a warm broker. It starts
	// slower and uses no class-data-sharing archive (one made with the serial GC).
	Tuned bool
}

func (c *KafkaConfig) validate() error {
	switch {
	case c.Dir == "":
		return errors.New("kafka: no data dir")
	case c.Port <= 0 || c.ControllerPort <= 0 || c.Port == c.ControllerPort:
		return fmt.Errorf("kafka: want two distinct ports, have %d and %d", c.Port, c.ControllerPort)
	case c.NodeID < 0:
		return fmt.Errorf("kafka: node id %d: want > 0", c.NodeID)
	case c.Voters != "" && !slices.Contains(strings.Split(c.Voters, ","), fmt.Sprintf("%d@%s", c.nodeID(), loopback(c.ControllerPort))):
		return fmt.Errorf("kafka: voters %q do not include node %d on controller port %d", c.Voters, c.nodeID(), c.ControllerPort)
	}
	if c.Libs == "" {
		libs, err := KafkaLibs()
		if err != nil {
			return err
		}
		c.Libs = libs
	}
	return nil
}

func (c *KafkaConfig) nodeID() int { return max(c.NodeID, 1) }

// quorumProp is the line of server.properties that says where the controllers are.
func (c *KafkaConfig) quorumProp() string {
	if c.Voters == "" {
		return "controller.quorum.bootstrap.servers=" + loopback(c.ControllerPort)
	}
	return "controller.quorum.voters=" + c.Voters
}

// props is the whole server.properties.
func (c *KafkaConfig) props(data string) string {
	p := fmt.Sprintf(kafkaProps, c.Port, c.ControllerPort, data, c.nodeID(), c.quorumProp())
	if c.Voters != "" {
		n := strings.Count(c.Voters, "@")
		p += fmt.Sprintf(kafkaClusterProps, n, n/2+1)
	}
	return p + c.ExtraProps
}

// KafkaVoters returns the controller.quorum.voters of a cluster whose node i+1 has the
// controller port ctrlPorts[i] on 127.0.0.1.
func KafkaVoters(ctrlPorts []int) string {
	voters := make([]string, len(ctrlPorts))
	for i, p := range ctrlPorts {
		voters[i] = fmt.Sprintf("%d@%s", i+1, loopback(p))
	}
	return strings.Join(voters, ",")
}

// NewKafkaClusterID returns a new cluster id, as `StorageTool random-uuid` prints it: 16 random
// bytes in unpadded base64url (made here to save a JVM start). It may begin with '-'.
func NewKafkaClusterID() string {
	uuid := make([]byte, 16)
	rand.Read(uuid) // never fails
	return base64.RawURLEncoding.EncodeToString(uuid)
}

// Kafka is a real KRaft broker (and controller) running as a child JVM: a single node, or
// one node of a cluster (KafkaConfig.Voters).
// Its methods are not safe for concurrent use.
type Kafka struct {
	cfg  KafkaConfig
	jsa  string // class-data-sharing archive shared by all brokers
	proc Proc
	dump string // where the running JVM writes a CDS archive at exit, "" if it does not
}

// NewKafka writes the broker's config into cfg.Dir and formats its storage unless an earlier
// run did; Start runs it.
func NewKafka(cfg KafkaConfig) (*Kafka, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	k := &Kafka{cfg: cfg, jsa: filepath.Join(filepath.Dir(cfg.Libs), "broker.jsa")}
	k.proc = Proc{Name: "kafka", Noun: "broker", Log: k.path("broker.log"), TailLines: kafkaLogTail}
	data := k.path("data")
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if err := writeFile(k.path("server.properties"), cfg.props(data)); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if err := writeFile(k.path("log4j2.properties"), kafkaLog4j); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if fileExists(filepath.Join(data, "meta.properties")) {
		return k, nil
	}

	// Formatting is `kafka-storage.sh format`: once per data dir (it refuses a formatted one).
	// The cluster id may begin with '-', hence --cluster-id=.
	id := cfg.ClusterID
	if id == "" {
		id = NewKafkaClusterID()
	}
	args := append(k.sharedArchive(), "kafka.tools.StorageTool", "format", "--cluster-id="+id, "-c", k.path("server.properties"))
	if cfg.Voters == "" {
		args = append(args, "--standalone")
	}
	format := k.java(args...)
	if out, err := format.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("kafka: format storage in %s: %w\n%s", data, err, out)
	}
	return k, nil
}

// KafkaLibs returns the directory of the broker's jars: $LOGCOLLECT_KAFKA_LIBS if set, else
// ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/kafka-<version>/libs, which kafka/fetch.sh fills.
func KafkaLibs() (string, error) {
	if dir := os.Getenv("LOGCOLLECT_KAFKA_LIBS"); dir != "" {
		if jars, _ := filepath.Glob(filepath.Join(dir, "kafka_2.13-*.jar")); len(jars) == 0 {
			return "", fmt.Errorf("kafka: LOGCOLLECT_KAFKA_LIBS=%s holds no kafka_2.13 jar: unset it and %s", dir, kafkaFetchHint)
		}
		return filepath.Abs(dir)
	}
	cache, err := CacheDir()
	if err != nil {
		return "", fmt.Errorf("kafka: locate the jars: %w", err)
	}
	dir := filepath.Join(cache, "kafka-"+KafkaVersion)
	if _, err := os.Stat(filepath.Join(dir, "complete")); err != nil {
		return "", fmt.Errorf("kafka: no Kafka %s jars in %s: %s", KafkaVersion, dir, kafkaFetchHint)
	}
	return filepath.Join(dir, "libs"), nil
}

// Brokers returns the broker's address, e.g. ["127.0.0.1:9092"].
func (k *Kafka) Brokers() []string { return []string{loopback(k.cfg.Port)} }

// Ports returns the client and controller ports (not those of ExtraProps' listeners).
func (k *Kafka) Ports() []int { return []int{k.cfg.Port, k.cfg.ControllerPort} }

// Log is the path of the broker's log file.
func (k *Kafka) Log() string { return k.proc.Log }

// LogTail returns the last lines of the broker's log, which explain a failure.
func (k *Kafka) LogTail() string { return k.proc.LogTail() }

// Start starts the broker, again after Stop or Kill on the same ports and with the same
// data, and waits until it answers. If ctx ends first, it kills the broker.
func (k *Kafka) Start(ctx context.Context) error {
	if k.proc.Running() {
		return errors.New("kafka: broker already running")
	}
	// The JVM spends most of its startup loading and verifying classes. A class-data-sharing
	// archive of them halves it (measured 3.4 s → 1.9 s; more on a busy machine). The first
	// broker that finds none dumps one when it exits gracefully (that stop takes ~6 s longer).
	flags, dump := k.sharedArchive(), ""
	if flags == nil && !k.cfg.Tuned {
		// A read-only cache dir only means running without an archive.
		if f, err := os.CreateTemp(filepath.Dir(k.jsa), "broker.jsa.*"); err == nil {
			f.Close()
			dump = f.Name()
			flags = []string{"-XX:ArchiveClassesAtExit=" + dump}
		}
	}
	cmd := k.java(append(flags, "kafka.Kafka", k.path("server.properties"))...)
	r, err := k.proc.Start(cmd)
	if err != nil {
		if dump != "" {
			os.Remove(dump)
		}
		return err
	}
	k.dump = dump
	if err := k.waitReady(ctx, r); err != nil {
		_ = k.Kill()
		if ctx.Err() != nil { // interrupted: the log says nothing about it
			return fmt.Errorf("kafka: %w", err)
		}
		return k.proc.startError(r, err)
	}
	return nil
}

// Stop stops the broker gracefully (SIGTERM) and waits until it has exited; after 15 s it kills
// it and returns an error. Stopping a stopped broker does nothing.
func (k *Kafka) Stop() error { return k.stop(syscall.SIGTERM) }

// Kill kills the broker (SIGKILL), as a crash would, and waits until it has exited.
func (k *Kafka) Kill() error { return k.stop(syscall.SIGKILL) }

// Pause stops the broker's JVM (SIGSTOP) without ending it, as a long GC pause or a hung
// disk would: it neither answers nor replicates nor heartbeats until Resume.
func (k *Kafka) Pause() error { return k.proc.Signal(syscall.SIGSTOP) }

// Resume continues a paused broker (SIGCONT).
func (k *Kafka) Resume() error { return k.proc.Signal(syscall.SIGCONT) }

// NodeID is the node's id in its cluster (1 for a single node).
func (k *Kafka) NodeID() int { return k.cfg.nodeID() }

func (k *Kafka) stop(sig syscall.Signal) error {
	if !k.proc.Running() {
		return nil
	}
	// The JVM exits with 128+15 after a SIGTERM, which Proc.Stop accepts.
	err := k.proc.Stop(sig)
	if dump := k.dump; dump != "" {
		k.dump = ""
		// Only a JVM that exited normally wrote a whole archive: a truncated one crashes the
		// next JVM (SIGBUS). The rename is atomic, so concurrent brokers see all or nothing.
		if err == nil && sig == syscall.SIGTERM {
			_ = os.Rename(dump, k.jsa)
		} else {
			_ = os.Remove(dump)
		}
	}
	return err
}

// waitReady polls the broker with a Metadata request until it answers: its client listener
// only starts accepting requests once the broker has registered with the controller, been
// unfenced and loaded its logs, so then it can serve produce and fetch.
func (k *Kafka) waitReady(ctx context.Context, r *Run) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	return r.WaitReady(ctx, "broker", kafkaReadyTimeout, 100*time.Millisecond, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := adm.ListBrokers(ctx)
		return err
	})
}

// java returns a command running a main class of the broker's jars (as the kafka-*.sh scripts
// do) in the broker's dir, so a crash's hs_err file lands there too.
//
// Setpgid and Pdeathsig: see Proc.Start, which sets them for the broker too.
func (k *Kafka) java(args ...string) *exec.Cmd {
	base := jvmFlags(k.cfg.Tuned, kafkaTunedFlags,
		"-Dlog4j2.configurationFile="+k.path("log4j2.properties"),
		"-cp", filepath.Join(k.cfg.Libs, "*"),
	)
	cmd := exec.Command("java", append(base, args...)...)
	cmd.Dir = k.cfg.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// kafkaTunedFlags are kafka-server-start.sh's and kafka-run-class.sh's heap and GC flags.
var kafkaTunedFlags = []string{
	"-Xms1g", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
	"-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
}

// sharedArchive returns the JVM flag that uses the CDS archive, or nil while there is none
// or the JVM is tuned.
// An archive made by another JDK is ignored with a warning in the log: delete it then.
func (k *Kafka) sharedArchive() []string {
	if k.cfg.Tuned || !fileExists(k.jsa) {
		return nil
	}
	return []string{"-XX:SharedArchiveFile=" + k.jsa}
}

func (k *Kafka) path(name string) string { return filepath.Join(k.cfg.Dir, name) }
