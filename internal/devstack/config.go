package devstack

// The daemons' configs, written to Dir/config/*.yaml on every start. Short intervals: the
// demo should show lines in Elasticsearch within a second or two. Each is completed by
// commonYAML.

// agentYAML: %[1]s the brokers, %[2]s the etcd endpoints (YAML lists), %[3]s host.ip,
// %[4]s the data dir (offsets and the last good collect config).
const agentYAML = `kafka:
  brokers: %[1]s
  linger: 5ms
etcd:
  endpoints: %[2]s
host:
  ip: %[3]q
data_dir: %[4]q
files:
  scan_frequency: 1s
`

// transferYAML: %[1]s the brokers, %[2]s the topic, %[3]s the Elasticsearch URLs.
const transferYAML = `kafka:
  brokers: %[1]s
  topics: [%[2]q]
elasticsearch:
  urls: %[3]s
template:
  replicas: 0
bulk:
  flush_interval: 500ms
`

// sysmonYAML: %[1]s the InfluxDB URL, %[2]s the bucket, %[3]s the token.
const sysmonYAML = `interval: 5s
influx:
  url: %[1]q
  bucket: %[2]q
  token: %[3]q
`

// sysmonMetricsOnlyYAML is sysmon without an InfluxDB output: it samples and serves its
// metrics only. It needs a sysmon whose influx.url is optional.
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
