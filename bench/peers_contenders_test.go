//go:build bench

package bench

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// peersInstall is what peers/install.sh reported: per peer, its summary line
// ("ok (33 s)", "FAILED (12 s)") and, for a failure, the end of its output.
type peersInstall struct {
	status map[string]string
	failed map[string]string
}

// installPeers runs peers/install.sh for the peers named (all without
// names), which installs what is missing and reuses what is cached; with
// LOGCOLLECT_PEERS_INSTALL=0 it does not, and the peers found are used.
func installPeers(t *testing.T, names ...string) peersInstall {
	t.Helper()
	in := peersInstall{status: map[string]string{}, failed: map[string]string{}}
	if os.Getenv("LOGCOLLECT_PEERS_INSTALL") == "0" {
		return in
	}
	out, err := exec.Command("bash", append([]string{"peers/install.sh"}, names...)...).CombinedOutput()
	var name string
	var section []string
	for line := range strings.Lines(string(out)) {
		line = strings.TrimRight(line, "\n")
		rest, ok := strings.CutPrefix(line, "== ")
		if !ok {
			section = append(section, line)
			continue
		}
		if n, st, done := strings.Cut(rest, ": "); done && n == name {
			in.status[n] = st
			if strings.HasPrefix(st, "FAILED") {
				in.failed[n] = strings.Join(section[max(0, len(section)-8):], "\n")
			}
			continue
		}
		name, section = rest, nil
	}
	if err != nil {
		t.Logf("peers/install.sh: %v; not installed: %v", err, in.failed)
	}
	return in
}

// peersCache is where install.sh puts the peers built with go install.
func peersCache() string {
	if c := os.Getenv("LOGCOLLECT_CACHE"); c != "" {
		return filepath.Join(c, "peers")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "logcollect", "peers")
}

// peerContenders lists the contenders in the order they run and in the
// tables: the ceiling first, logagent last.
func peerContenders(b bins, in peersInstall) []peer {
	peers := []peer{
		{name: "rawproducer", ceiling: true, version: "franz-go " + depVersion(b.rawproducer, "github.com/twmb/franz-go"),
			command: func(r peerRun) (*exec.Cmd, error) {
				return exec.Command(b.rawproducer, rawproducerArgs(r.brokers, r.topic, strings.Join(r.in.files, ","))...), nil
			}},
		{name: "kcat", command: kcatCommand},
		{name: "rsyslog", follows: true, term: true, command: rsyslogCommand},
		{name: "telegraf", follows: true, term: true, command: telegrafCommand},
		{name: "otelcol", follows: true, term: true, command: otelcolCommand},
	}
	for _, f := range []string{"json", "raw"} {
		peers = append(peers, peer{name: "logagent " + f, follows: true, term: true, version: "this tree",
			command: func(r peerRun) (*exec.Cmd, error) {
				config := filepath.Join(r.dir, "agent.yaml")
				err := os.WriteFile(config, []byte(agentConfig(r.brokers, r.dir, r.in.glob, r.topic, f)), 0o644)
				return exec.Command(b.logagent, "-config", config), err
			}})
	}
	for i, p := range peers {
		key := installKey(p.name)
		if key == "" {
			continue
		}
		if why, failed := in.failed[key]; failed {
			peers[i].missing = "install failed: " + why
			continue
		}
		peers[i].version, peers[i].missing = peerVersion(p.name)
	}
	return peers
}

// peerBinary is where each installed peer is.
func peerBinary(name string) string {
	switch name {
	case "kcat":
		return "kcat"
	case "rsyslog":
		return "rsyslogd"
	case "telegraf":
		return filepath.Join(peersCache(), "telegraf-"+telegrafVer, "bin", "telegraf")
	default: // otelcol
		return filepath.Join(peersCache(), "otelcol-"+otelcolVer, "otelcol-bench")
	}
}

// peerVersion returns the installed version of a peer, or why it is missing.
func peerVersion(name string) (version, missing string) {
	bin, err := exec.LookPath(peerBinary(name))
	if err != nil {
		return "", fmt.Sprintf("not installed (%v); run bash bench/peers/install.sh", err)
	}
	switch name {
	case "kcat", "rsyslog":
		pkgs := map[string]string{"kcat": "kcat librdkafka1", "rsyslog": "rsyslog rsyslog-kafka librdkafka1"}[name]
		out, err := exec.Command("dpkg-query", append([]string{"-W", "-f", "${Package} ${Version}, "}, strings.Fields(pkgs)...)...).Output()
		if err != nil {
			return "unknown", ""
		}
		return "Debian " + strings.TrimSuffix(string(out), ", "), ""
	case "telegraf":
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			return "unknown", ""
		}
		return "Telegraf " + info.Main.Version + " (go install, tags " + buildSetting(info, "-tags") + ")", ""
	default: // otelcol
		return "otelcol-bench from the collector builder: collector " + depVersion(bin, "go.opentelemetry.io/collector/otelcol") +
			", filelogreceiver " + depVersion(bin, "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver") +
			", batchprocessor " + depVersion(bin, "go.opentelemetry.io/collector/processor/batchprocessor") +
			", kafkaexporter " + depVersion(bin, "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/kafkaexporter"), ""
	}
}

func buildSetting(info *buildinfo.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return "unknown"
}

// The peers' settings follow the agent's producer settings where the peer has
// them: acks=all, idempotent, zstd, linger 10ms, one partition.

func kcatCommand(r peerRun) (*exec.Cmd, error) {
	args := []string{"-b", strings.Join(r.brokers, ","), "-t", r.topic, "-P",
		"-X", "compression.codec=" + compression, "-X", "linger.ms=10", "-X", "enable.idempotence=true", "-X", "acks=all"}
	if len(r.in.files) == 1 {
		return exec.Command(peerBinary("kcat"), append(args, "-l", r.in.files[0])...), nil
	}
	// kcat -l takes one file: one kcat per file, in parallel, under sh.
	sh := "pids=; for f in " + shellQuote(r.in.files...) + "; do kcat " + shellQuote(args...) +
		` -l "$f" & pids="$pids $!"; done; st=0; for p in $pids; do wait $p || st=1; done; exit $st`
	return exec.Command("sh", "-c", sh), nil
}

func shellQuote(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// quoted is ss as a comma-separated list of quoted strings, for the peers'
// config files.
func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func rsyslogCommand(r peerRun) (*exec.Cmd, error) {
	work := filepath.Join(r.dir, "rsyslog")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`global(workDirectory=%q)
module(load="imfile")
module(load="omkafka")
template(name="line" type="string" string="%%msg%%")
input(type="imfile" file=%q tag="bench" ruleset="kafka" freshStartTail="off")
ruleset(name="kafka") {
  action(type="omkafka" broker=[%s] topic=%q template="line"
         confParam=["compression.codec=%s", "linger.ms=10", "enable.idempotence=true", "acks=all"])
}
`, work, r.in.glob, quoted(r.brokers), r.topic, compression)
	path := filepath.Join(r.dir, "rsyslog.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return exec.Command(peerBinary("rsyslog"), "-n", "-f", path, "-i", filepath.Join(work, "rsyslogd.pid")), nil
}

func telegrafCommand(r peerRun) (*exec.Cmd, error) {
	// metric_batch_size and max_undelivered_lines are raised from 1000 so
	// that the output sends full batches as soon as they are ready, and
	// flush_interval is lowered from 10s for the live scenario's freshness.
	conf := fmt.Sprintf(`[agent]
  interval = "1s"
  flush_interval = "100ms"
  flush_jitter = "0s"
  metric_batch_size = 10000
  metric_buffer_limit = 100000
  omit_hostname = true
  quiet = true

[[inputs.tail]]
  files = [%q]
  initial_read_offset = "beginning"
  watch_method = "inotify"
  max_undelivered_lines = 20000
  path_tag = ""
  data_format = "value"
  data_type = "string"

[[outputs.kafka]]
  brokers = [%s]
  topic = %q
  version = "2.1.0"
  compression_codec = 4
  required_acks = -1
  idempotent_writes = true
  data_format = "template"
  template = '{{ .Field "value" }}'
`, r.in.glob, quoted(r.brokers), r.topic)
	path := filepath.Join(r.dir, "telegraf.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return exec.Command(peerBinary("telegraf"), "--config", path), nil
}

func otelcolCommand(r peerRun) (*exec.Cmd, error) {
	conf := fmt.Sprintf(`receivers:
  filelog:
    include: [%q]
    start_at: beginning
processors:
  batch: {}
exporters:
  kafka:
    brokers: [%s]
    logs:
      topic: %q
      encoding: raw
    producer:
      compression: %s
      required_acks: -1
service:
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    logs:
      receivers: [filelog]
      processors: [batch]
      exporters: [kafka]
`, r.in.glob, quoted(r.brokers), r.topic, compression)
	path := filepath.Join(r.dir, "otelcol.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return exec.Command(peerBinary("otelcol"), "--config", path), nil
}
