package devstack

// The daemons' configs, written to Dir/config/*.yaml on every start. Short intervals: the
// demo should show lines in Elasticsearch within a second or two. Each is completed by
// commonYAML.

// agentYAML: %[1]s the brokers, %[2]s the etcd endpoints (YAML lists), %[3]s host.ip,
// %[4]s the data dir (offsets and the last good collect config), %[5]s the state dir. The
// collect config from etcd may name files under the state dir (the demo logs, and files a
// user adds there to try a task) and under /var/log (files.allowed_paths).
const agentYAML = `kafka:
  brokers: %[1]s
  linger: 5ms
etcd:
  endpoints: %[2]s
host:
  ip: %[3]q
data_dir: %[4]q
files:
  allowed_paths: ["%[5]s/**", "/var/log/**"]
  scan_frequency: 1s
`

// transferYAML: %[1]s the brokers, %[2]s the topics (a YAML list), %[3]s the Elasticsearch
// URLs, %[4]q, %[5]q and %[6]q the nginx, app and syslog topics, %[7]s the etcd endpoints.
// Its pipelines parse the demo files: the nginx preset, the JSON app log with its time and
// level, the syslog preset. It also consumes the topics listed in etcd under
// /logtransfer/topics (the default etcd.topics_key), where `logctl config set` and `logctl
// config edit` add the topics of new tasks: a log source added with logctl is indexed too.
// The template is overwritten so that a state dir of an earlier logtransfer gets the
// mappings of the fields the pipelines make.
const transferYAML = `kafka:
  brokers: %[1]s
  topics: %[2]s
etcd:
  endpoints: %[7]s
elasticsearch:
  urls: %[3]s
template:
  replicas: 0
  overwrite: true
bulk:
  flush_interval: 500ms
pipelines:
  - name: web
    topics: [%[4]q]
    processors:
      - nginx: {}
      - drop: {if: 'url.original == "/healthz"'}
  - name: app
    topics: [%[5]q]
    processors:
      - json: {}
      - timestamp: {field: time, formats: [RFC3339Nano]}
      - rename: {fields: {level: log.level, logger: log.logger, msg: message}, ignore_missing: true}
      - remove: {fields: [time]}
  - name: syslog
    topics: [%[6]q]
    processors:
      - syslog: {}
`

// sysmonYAML: %[1]s the InfluxDB URL, %[2]s the bucket, %[3]s the token.
const sysmonYAML = `interval: 5s
influx:
  url: %[1]q
  bucket: %[2]q
  token: %[3]q
`

// sysmonMetricsOnlyYAML is sysmon without an InfluxDB output: it samples and serves its
// metrics only.
const sysmonMetricsOnlyYAML = `interval: 5s
`

// commonYAML: %[1]s the metrics listen address.
const commonYAML = `metrics:
  listen: %[1]q
shutdown_timeout: 10s
log:
  level: info
  format: text
`
