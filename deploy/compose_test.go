package deploy

import (
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/testenv"
	"github.com/logcollect/logcollect/sysmon"
	"github.com/logcollect/logcollect/transfer"
)

// composeEnvs are the environments docker-compose.yml is checked under: the
// defaults, and the secrets a user is told to set in .env.
var composeEnvs = map[string]map[string]string{
	"defaults": {},
	"secrets from .env": {
		"INFLUX_TOKEN":           "a-real-token-0123456789",
		"INFLUX_ADMIN_PASSWORD":  "another-secret",
		"GRAFANA_ADMIN_PASSWORD": "grafana-secret",
		"LOGCOLLECT_VERSION":     "v1.2.3",
	},
}

// forEachEnv runs f with docker-compose.yml loaded under each composeEnvs
// entry.
func forEachEnv(t *testing.T, f func(t *testing.T, p *composeProject)) {
	for _, name := range slices.Sorted(maps.Keys(composeEnvs)) {
		t.Run(name, func(t *testing.T) { f(t, loadCompose(t, composeEnvs[name])) })
	}
}

// composeProject is docker-compose.yml as the compose-spec loader reads it
// (interpolated, merged, paths resolved), with the repository root.
type composeProject struct {
	*types.Project
	root string
}

func loadCompose(t *testing.T, env map[string]string) *composeProject {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(list), cli.WithInterpolation(true), cli.WithResolvedPaths(true))
	require.NoError(t, err)
	p, err := opts.LoadProject(context.Background())
	require.NoError(t, err, "docker-compose.yml does not load")
	return &composeProject{p, root}
}

func (p *composeProject) service(t *testing.T, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	require.Truef(t, ok, "docker-compose.yml has no service %s", name)
	return s
}

// env is the environment a service's container gets (interpolated).
func env(s types.ServiceConfig) map[string]string {
	m := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			m[k] = *v
		}
	}
	return m
}

// hostPath is the file on the host (in the repository) a service sees at
// the container path target: through a bind mount of that path or of a
// directory above it. "" when no bind mount covers it.
func (p *composeProject) hostPath(s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if rel, err := filepath.Rel(v.Target, target); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.Join(v.Source, rel)
		}
	}
	return ""
}

// namedVolume is the named volume mounted in s at or above target, "" if
// none.
func namedVolume(s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeVolume {
			continue
		}
		if rel, err := filepath.Rel(v.Target, target); err == nil && !strings.HasPrefix(rel, "..") {
			return v.Source
		}
	}
	return ""
}

// oneShot reports whether s runs to completion rather than as a server.
func oneShot(s types.ServiceConfig) bool {
	return (s.Restart == "" || s.Restart == "no") && s.HealthCheck == nil
}

func hasHealthcheck(s types.ServiceConfig) bool {
	h := s.HealthCheck
	return h != nil && !h.Disable && len(h.Test) > 1 && h.Test[0] != "NONE"
}

// TestComposeDependencies: every server has a health check, and a service
// only starts once what it needs is healthy (servers) or has finished
// successfully (one-shot init steps), so `docker compose up` needs no retry
// loop and no sleep.
func TestComposeDependencies(t *testing.T) {
	forEachEnv(t, func(t *testing.T, p *composeProject) {
		awaited := map[string]bool{}
		for name, s := range p.Services {
			if !oneShot(s) {
				require.Truef(t, hasHealthcheck(s), "server %s has no health check", name)
			}
			for dep, d := range s.DependsOn {
				ds := p.service(t, dep)
				switch d.Condition {
				case types.ServiceConditionHealthy:
					require.Truef(t, hasHealthcheck(ds), "%s waits for %s to be healthy, which has no health check", name, dep)
				case types.ServiceConditionCompletedSuccessfully:
					require.Truef(t, oneShot(ds), "%s waits for %s to complete, which is not a one-shot service", name, dep)
					awaited[dep] = true
				default:
					t.Errorf("%s depends on %s with condition %q: wait for service_healthy or service_completed_successfully", name, dep, d.Condition)
				}
			}
		}
		// An init step itself waits for the server it initialises.
		for name, s := range p.Services {
			if oneShot(s) {
				require.NotEmptyf(t, s.DependsOn, "one-shot %s runs without waiting for anything", name)
			}
		}
		require.NotEmpty(t, awaited, "no init step is awaited")
	})
}

// TestComposeBindMounts: every file the stack mounts from the host is in
// the repository, exists, and is mounted read-only (the stack never writes
// into the checkout).
func TestComposeBindMounts(t *testing.T) {
	forEachEnv(t, func(t *testing.T, p *composeProject) {
		n := 0
		for name, s := range p.Services {
			for _, v := range s.Volumes {
				if v.Type != types.VolumeTypeBind {
					require.Containsf(t, p.Volumes, v.Source, "%s: volume %s is not declared", name, v.Source)
					continue
				}
				n++
				rel, err := filepath.Rel(p.root, v.Source)
				require.NoError(t, err)
				require.Falsef(t, strings.HasPrefix(rel, ".."), "%s mounts %s, outside the repository", name, v.Source)
				_, err = os.Stat(v.Source)
				require.NoErrorf(t, err, "%s mounts %s", name, rel)
				require.Truef(t, v.ReadOnly, "%s mounts %s read-write", name, rel)
			}
			if s.Build != nil {
				dockerfile := s.Build.Dockerfile
				if s.Build.DockerfileInline == "" {
					_, err := os.Stat(filepath.Join(s.Build.Context, dockerfile))
					require.NoErrorf(t, err, "%s builds from %s", name, dockerfile)
				}
			}
		}
		require.NotZero(t, n)
	})
}

// pipelineService is one of our daemons as docker-compose.yml runs it,
// with its config loaded by the daemon's own loader.
type pipelineService struct {
	name   string
	binary string
	svc    types.ServiceConfig
	config loadedConfig
}

// pipelineServices finds the services that run logagent, logtransfer or
// sysmon, checks that each runs `<binary> -config <file>` with that file
// mounted, and loads it with the container's environment.
func pipelineServices(t *testing.T, p *composeProject) map[string]pipelineService {
	t.Helper()
	out := map[string]pipelineService{}
	for name, s := range p.Services {
		if len(s.Command) == 0 {
			continue
		}
		if _, ok := binaries[s.Command[0]]; !ok {
			continue
		}
		require.Lenf(t, s.Command, 3, "%s: command %v, want [%s -config FILE]", name, s.Command, s.Command[0])
		require.Equal(t, "-config", s.Command[1], name)
		file := p.hostPath(s, s.Command[2])
		require.NotEmptyf(t, file, "%s: %s is not mounted from the repository", name, s.Command[2])
		cfg, err := loadWithEnv(t, s.Command[0], file, env(s))
		require.NoErrorf(t, err, "%s: %s, with the service's environment", name, file)
		out[s.Command[0]] = pipelineService{name, s.Command[0], s, cfg}
	}
	require.Len(t, out, len(binaries), "a service for each daemon")
	return out
}

// urlPort is the port of an http URL (80 when implicit).
func urlPort(t *testing.T, raw string) (host string, port int) {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err, raw)
	port = 80
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		require.NoError(t, err, raw)
	}
	return u.Hostname(), port
}

// TestComposePipeline: the three daemons run the image of the Dockerfile
// with a valid config, and their metrics port is the one the health check,
// the published port and Prometheus's scrape target use; SIGTERM has time
// to drain.
func TestComposePipeline(t *testing.T) {
	forEachEnv(t, func(t *testing.T, p *composeProject) {
		targets := promTargets(loadPromConfig(t))
		for _, ps := range pipelineServices(t, p) {
			s := ps.svc
			require.NotNilf(t, s.Build, "%s: built from the Dockerfile", ps.name)
			require.Equal(t, p.root, s.Build.Context, ps.name)
			require.Contains(t, []string{"", "Dockerfile"}, s.Build.Dockerfile, ps.name)

			port := listenPort(t, ps.config.listen)
			require.Equalf(t, binaries[ps.binary].defaultPort, port, "%s: metrics port", ps.name)
			require.Truef(t, hasHealthcheck(s), "%s: health check", ps.name)
			var hcURL string
			for _, a := range s.HealthCheck.Test {
				if strings.HasPrefix(a, "http://") {
					hcURL = a
				}
			}
			host, hcPort := urlPort(t, hcURL)
			require.Equalf(t, port, hcPort, "%s: health check %s", ps.name, hcURL)
			require.Contains(t, []string{"127.0.0.1", "localhost"}, host)
			require.True(t, strings.HasSuffix(hcURL, "/readyz") || strings.HasSuffix(hcURL, "/healthz"), hcURL)

			published := slices.ContainsFunc(s.Ports, func(pc types.ServicePortConfig) bool { return int(pc.Target) == port })
			require.Truef(t, published, "%s: metrics port %d not published", ps.name, port)
			require.Equalf(t, []string{net.JoinHostPort(ps.name, strconv.Itoa(port))}, targets[ps.binary],
				"prometheus.yml job %s must scrape the compose service", ps.binary)

			require.NotNilf(t, s.StopGracePeriod, "%s: stop_grace_period", ps.name)
			require.GreaterOrEqualf(t, time.Duration(*s.StopGracePeriod), ps.config.shutdown+5*time.Second,
				"%s: stop_grace_period leaves no room for shutdown_timeout %s", ps.name, ps.config.shutdown)
		}
	})
}

// TestComposeAgentFiles: logagent reads the demo logs from the volume the
// generator writes, keeps its offsets on a volume, and is the host its
// collect key names.
func TestComposeAgentFiles(t *testing.T) {
	forEachEnv(t, func(t *testing.T, p *composeProject) {
		ag := pipelineServices(t, p)["logagent"]
		cfg := ag.config.config.(agent.Config)
		require.NotEmptyf(t, namedVolume(ag.svc, cfg.DataDir), "data_dir %s is not on a volume: offsets would be lost with the container", cfg.DataDir)

		gen := p.service(t, "loggen")
		tasks := seededTasks(t, p)
		for _, task := range tasks {
			dir := filepath.Dir(task.Path)
			v := namedVolume(ag.svc, dir)
			require.NotEmptyf(t, v, "task %s: %s is not a volume of logagent", task.Path, dir)
			require.Equalf(t, v, namedVolume(gen, env(gen)["LOG_DIR"]), "task %s: loggen does not write into the volume logagent reads", task.Path)
		}
	})
}

// etcdPuts parses the etcd-init script: each `etcdctl put KEY < FILE` or
// `etcdctl put KEY 'VALUE'`, as key → value (read from the mounted file).
func etcdPuts(t *testing.T, p *composeProject) map[string][]byte {
	t.Helper()
	s := p.service(t, "etcd-init")
	script := strings.Join(s.Command, "\n")
	puts := map[string][]byte{}
	re := regexp.MustCompile(`(?m)^\s*etcdctl put (\S+) (?:< (\S+)|'([^']*)')\s*$`)
	for _, m := range re.FindAllStringSubmatch(script, -1) {
		if m[2] != "" {
			file := p.hostPath(s, m[2])
			require.NotEmptyf(t, file, "etcd-init reads %s, which is not mounted", m[2])
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			puts[m[1]] = data
		} else {
			puts[m[1]] = []byte(m[3])
		}
	}
	require.NotEmpty(t, puts, "etcd-init puts nothing:\n%s", script)
	return puts
}

// seededTasks are the tasks etcd-init puts under logagent's collect key.
func seededTasks(t *testing.T, p *composeProject) []collect.Task {
	t.Helper()
	ag := pipelineServices(t, p)["logagent"]
	cfg := ag.config.config.(agent.Config)
	require.NotEmpty(t, ag.svc.Hostname, "logagent needs a fixed hostname: its collect key is per host")
	key := cfg.ExpandCollectKey(cfg.Host.IP, ag.svc.Hostname)
	value, ok := etcdPuts(t, p)[key]
	require.Truef(t, ok, "etcd-init does not put logagent's collect key %s", key)
	tasks, err := collect.ParseTasks(value)
	require.NoError(t, err, "collect config put under %s", key)
	require.NotEmpty(t, tasks)
	return tasks
}

// TestComposeTopics: every topic the agent's tasks produce to exists
// (kafka-init) and is consumed by logtransfer (its config or its etcd key),
// so no demo line is left in Kafka.
func TestComposeTopics(t *testing.T) {
	forEachEnv(t, func(t *testing.T, p *composeProject) {
		tr := pipelineServices(t, p)["logtransfer"].config.config.(transfer.Config)
		requireTopicsFromLogctl(t, tr, "docker-compose.yml")
		consumed := slices.Clone(tr.Kafka.Topics)
		if len(tr.Etcd.Endpoints) > 0 {
			if v, ok := etcdPuts(t, p)[tr.Etcd.TopicsKey]; ok {
				var topics []string
				require.NoError(t, json.Unmarshal(v, &topics), "%s", v)
				consumed = append(consumed, topics...)
			}
		}
		m := regexp.MustCompile(`for topic in ([^;]+);`).FindStringSubmatch(strings.Join(p.service(t, "kafka-init").Command, "\n"))
		require.NotNil(t, m, "kafka-init creates no topic")
		created := strings.Fields(m[1])
		for _, task := range seededTasks(t, p) {
			require.Containsf(t, consumed, task.Topic, "logtransfer does not consume %s (task %s)", task.Topic, task.Path)
			require.Containsf(t, created, task.Topic, "kafka-init does not create %s", task.Topic)
		}
	})
}

// TestComposeKafka: the broker runs in KRaft mode on one node, and every
// client's bootstrap address is the listener it advertises to containers.
func TestComposeKafka(t *testing.T) {
	forEachEnv(t, func(t *testing.T, p *composeProject) {
		k := env(p.service(t, "kafka"))
		require.Equal(t, "broker,controller", k["KAFKA_PROCESS_ROLES"])
		var advertised []string
		for _, l := range strings.Split(k["KAFKA_ADVERTISED_LISTENERS"], ",") {
			if u, err := url.Parse(l); err == nil && strings.EqualFold(u.Scheme, k["KAFKA_INTER_BROKER_LISTENER_NAME"]) {
				advertised = append(advertised, u.Host)
			}
		}
		require.NotEmpty(t, advertised)
		for _, ps := range pipelineServices(t, p) {
			for _, b := range ps.config.brokers {
				require.Containsf(t, advertised, b, "%s connects to %s, which the broker does not advertise", ps.name, b)
			}
		}
	})
}

// TestComposeElasticsearch: security is set explicitly, and logtransfer and
// Kibana use the node the way that setting requires.
func TestComposeElasticsearch(t *testing.T) {
	forEachEnv(t, func(t *testing.T, p *composeProject) {
		es := env(p.service(t, "elasticsearch"))
		security, ok := es["xpack.security.enabled"]
		require.True(t, ok, "xpack.security.enabled must be explicit")
		tr := pipelineServices(t, p)["logtransfer"].config.config.(transfer.Config)
		kibanaHosts := env(p.service(t, "kibana"))["ELASTICSEARCH_HOSTS"]
		for _, u := range tr.Elasticsearch.URLs {
			host, port := urlPort(t, u)
			require.Equal(t, "elasticsearch", host)
			require.Equal(t, 9200, port)
			require.Contains(t, kibanaHosts, u, "Kibana reads the node logtransfer writes to")
			if security == "false" {
				require.True(t, strings.HasPrefix(u, "http://"), "security off: plain http")
			}
		}
		switch security {
		case "false":
			require.Empty(t, tr.Elasticsearch.Username+tr.Elasticsearch.Password+tr.Elasticsearch.APIKey, "security off: no credentials")
		case "true":
			require.NotEmpty(t, es["ELASTIC_PASSWORD"])
			require.NotEmpty(t, tr.Elasticsearch.Username+tr.Elasticsearch.APIKey, "security on: logtransfer needs credentials")
		default:
			t.Fatalf("xpack.security.enabled=%q", security)
		}
	})
}

// TestComposePrometheus runs promtool check config on prometheus.yml as the
// container sees it: the bind mounts of the prometheus service rebuilt as
// symlinks in a temporary root, so the rule path must resolve there too.
func TestComposePrometheus(t *testing.T) {
	p := loadCompose(t, nil)
	s := p.service(t, "prometheus")
	var configPath string
	for _, a := range s.Command {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			configPath = v
		}
	}
	require.NotEmpty(t, configPath, "--config.file")
	host := p.hostPath(s, configPath)
	require.NotEmpty(t, host, "%s is not mounted", configPath)
	require.Equal(t, filepath.Join(p.root, "deploy", prometheusConfig), host)

	promtool := testenv.PromtoolBinary(t)
	root := t.TempDir()
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind {
			link := filepath.Join(root, v.Target)
			require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o755))
			require.NoError(t, os.Symlink(v.Source, link))
		}
	}
	out, err := exec.Command(promtool, "check", "config", filepath.Join(root, configPath)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Regexp(t, `SUCCESS: [1-9][0-9]* rules found`, string(out))
}

// grafanaDatasources is the part of a Grafana data source provisioning file
// the tests read.
type grafanaDatasources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name, Type, UID, URL string
		IsDefault            bool              `yaml:"isDefault"`
		JSONData             map[string]any    `yaml:"jsonData"`
		SecureJSONData       map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

type grafanaProviders struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name, Type string
		Options    struct {
			Path string `yaml:"path"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	require.NoError(t, dec.Decode(v), path)
}

// TestComposeGrafana: Grafana is provisioned with data sources that reach
// the compose Prometheus and InfluxDB (the database of the DBRP mapping,
// the token InfluxDB was set up with), and with the dashboards directory.
func TestComposeGrafana(t *testing.T) {
	forEachEnv(t, func(t *testing.T, p *composeProject) {
		g := p.service(t, "grafana")
		prov := p.hostPath(g, "/etc/grafana/provisioning")
		require.Equal(t, filepath.Join(p.root, "deploy/grafana/provisioning"), prov)

		var providers grafanaProviders
		readYAML(t, filepath.Join(prov, "dashboards/logcollect.yml"), &providers)
		require.Equal(t, 1, providers.APIVersion)
		require.Len(t, providers.Providers, 1)
		require.Equal(t, "file", providers.Providers[0].Type)
		require.Equal(t, filepath.Join(p.root, "dashboards/grafana"), p.hostPath(g, providers.Providers[0].Options.Path),
			"the dashboard provider must read the mounted dashboards/grafana")

		var ds grafanaDatasources
		readYAML(t, filepath.Join(prov, "datasources/logcollect.yml"), &ds)
		require.Equal(t, 1, ds.APIVersion)
		influx := env(p.service(t, "influxdb"))
		sm := pipelineServices(t, p)["sysmon"].config.config.(sysmon.FileConfig)
		byType := map[string]string{}
		for _, d := range ds.Datasources {
			require.NotEmptyf(t, d.UID, "data source %s: a stable uid", d.Name)
			byType[d.Type] = d.UID
			host, port := urlPort(t, d.URL)
			dep, ok := g.DependsOn[host]
			require.Truef(t, ok, "grafana does not wait for %s (data source %s)", host, d.Name)
			require.Equal(t, types.ServiceConditionHealthy, dep.Condition)
			switch d.Type {
			case "prometheus":
				require.Equal(t, 9090, port)
				require.Equal(t, loadPromConfig(t).Global.ScrapeInterval, d.JSONData["timeInterval"], "timeInterval = scrape_interval")
			case "influxdb":
				require.Equal(t, 8086, port)
				require.Equal(t, "InfluxQL", d.JSONData["version"])
				require.Equal(t, influx["DOCKER_INFLUXDB_INIT_BUCKET"], d.JSONData["dbName"], "database = the bucket mapped by create-dbrp.sh")
				require.Equal(t, "Authorization", d.JSONData["httpHeaderName1"])
				header := os.Expand(d.SecureJSONData["httpHeaderValue1"], func(k string) string { return env(g)[k] })
				require.Equal(t, "Token "+influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"], header, "Grafana's InfluxDB token")
				require.Equal(t, influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"], sm.Influx.Token, "sysmon's InfluxDB token")
				require.Equal(t, influx["DOCKER_INFLUXDB_INIT_BUCKET"], sm.Influx.Bucket, "sysmon writes the bucket Grafana reads")
				require.Equal(t, influx["DOCKER_INFLUXDB_INIT_ORG"], sm.Influx.Org)
				smHost, smPort := urlPort(t, sm.Influx.URL)
				require.Equal(t, []any{host, port}, []any{smHost, smPort}, "sysmon writes to the InfluxDB Grafana reads")
			default:
				t.Errorf("data source %s: unexpected type %s", d.Name, d.Type)
			}
		}
		require.Len(t, byType, 2, "one Prometheus and one InfluxDB data source")

		// The init script that creates the DBRP mapping is mounted where the
		// influxdb image runs it.
		script := p.hostPath(p.service(t, "influxdb"), "/docker-entrypoint-initdb.d/create-dbrp.sh")
		data, err := os.ReadFile(script)
		require.NoError(t, err, "create-dbrp.sh mounted in /docker-entrypoint-initdb.d")
		require.Contains(t, string(data), "influx v1 dbrp create")
		require.Contains(t, string(data), "--db \"${DOCKER_INFLUXDB_INIT_BUCKET}\"")

		// Each dashboard's data source variable finds a provisioned data
		// source of its type.
		dashboards, err := filepath.Glob(filepath.Join(p.root, "dashboards/grafana/*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, dashboards)
		for _, f := range dashboards {
			var d struct {
				Templating struct {
					List []struct {
						Type  string `json:"type"`
						Query any    `json:"query"`
					} `json:"list"`
				} `json:"templating"`
			}
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &d), f)
			for _, v := range d.Templating.List {
				if v.Type == "datasource" {
					kind, _ := v.Query.(string)
					require.Containsf(t, byType, kind, "%s: no provisioned data source of type %q", filepath.Base(f), kind)
				}
			}
		}
	})
}

// TestComposeKibanaInit: the init step imports the saved objects file it
// mounts, and that file is NDJSON.
func TestComposeKibanaInit(t *testing.T) {
	p := loadCompose(t, nil)
	s := p.service(t, "kibana-init")
	script := strings.Join(s.Command, "\n")
	m := regexp.MustCompile(`file=@(\S+)`).FindStringSubmatch(script)
	require.NotNil(t, m, "kibana-init uploads no file:\n%s", script)
	require.Contains(t, script, "/api/saved_objects/_import")
	host := p.hostPath(s, m[1])
	require.Equal(t, filepath.Join(p.root, "dashboards/kibana/logcollect.ndjson"), host)
	data, err := os.ReadFile(host)
	require.NoError(t, err)
	var patterns []string
	lines := 0
	for line := range strings.Lines(string(data)) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		lines++
		var obj struct {
			Type       string `json:"type"`
			Attributes struct {
				Title string `json:"title"`
			} `json:"attributes"`
		}
		require.NoErrorf(t, json.Unmarshal([]byte(line), &obj), "%s line %d", host, lines)
		if obj.Type == "index-pattern" {
			patterns = append(patterns, strings.Split(obj.Attributes.Title, ",")...)
		}
	}
	require.NotEmpty(t, patterns, "no data view")

	// The data view covers the indices logtransfer writes the demo topics to.
	tr := pipelineServices(t, p)["logtransfer"].config.config.(transfer.Config)
	require.Equal(t, "{topic}-{yyyy.MM.dd}", tr.Index, "index naming changed: update this check")
	for _, task := range seededTasks(t, p) {
		index := task.Topic + "-" + time.Now().UTC().Format("2006.01.02")
		covered := slices.ContainsFunc(patterns, func(pat string) bool { ok, _ := path.Match(strings.TrimSpace(pat), index); return ok })
		require.Truef(t, covered, "no Kibana data view (%v) covers index %s", patterns, index)
	}
}

// TestLoggenFeedsCollectConfig runs the demo log generator for two seconds
// and checks that the demo collect config's tasks match what it writes, and
// that the access log is in nginx's combined format.
func TestLoggenFeedsCollectConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator for 2s")
	}
	sh := testenv.Tool(t, "sh", "dash")
	dir := t.TempDir()
	cmd := exec.Command(sh, "compose/loggen.sh")
	cmd.Env = append(os.Environ(), "LOG_DIR="+dir, "ITERATIONS=2", "LINES_PER_SECOND=7")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	data, err := os.ReadFile("config/collect.json")
	require.NoError(t, err)
	tasks, err := collect.ParseTasks(data)
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, task := range tasks {
		pattern := filepath.Join(dir, strings.TrimPrefix(task.Path, "/var/log/demo/"))
		matched := slices.ContainsFunc(files, func(f string) bool { ok, _ := filepath.Match(pattern, f); return ok })
		require.Truef(t, matched, "task %s matches none of the generated files %v", task.Path, files)
	}

	access, err := os.ReadFile(filepath.Join(dir, "access.log"))
	require.NoError(t, err)
	combined := regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+ - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "[A-Z]+ \S+ HTTP/1\.1" \d{3} \d+ "-" "[^"]+" \d+\.\d{3}$`)
	lines := strings.Split(strings.TrimSuffix(string(access), "\n"), "\n")
	require.Len(t, lines, 14)
	for _, l := range lines {
		require.Regexp(t, combined, l)
	}
}

// TestComposeServerVersions: the stack runs the Kafka and etcd versions the
// test suite runs (internal/testenv's Kafka jars, the etcd modules of
// go.mod), so what `make test` proves holds for `docker compose up`.
func TestComposeServerVersions(t *testing.T) {
	p := loadCompose(t, nil)
	pom, err := os.ReadFile("../internal/servers/kafka/pom.xml")
	require.NoError(t, err)
	kafka := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindSubmatch(pom)
	require.NotNil(t, kafka, "kafka.version in the pom")
	goMod, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	etcd := regexp.MustCompile(`go.etcd.io/etcd/server/v3 (v\S+)`).FindSubmatch(goMod)
	require.NotNil(t, etcd, "the etcd server module in go.mod")

	for _, s := range []string{"kafka", "kafka-init"} {
		require.Equal(t, "apache/kafka:"+string(kafka[1]), p.service(t, s).Image, s)
	}
	require.Equal(t, "quay.io/coreos/etcd:"+string(etcd[1]), p.service(t, "etcd").Image)
	require.Contains(t, p.service(t, "etcd-init").Build.DockerfileInline, "FROM quay.io/coreos/etcd:"+string(etcd[1])+" ")
}
