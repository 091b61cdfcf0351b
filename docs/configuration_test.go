package docs

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/sysmon"
	"github.com/logcollect/logcollect/transfer"
)

// unmarshaler is a type that decodes its own YAML, such as pipeline.ProcessorConfig.
var unmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// decodesItself reports whether t (or *t) implements yaml.Unmarshaler: its YAML is its
// own, not that of its fields, and it is documented as one key.
func decodesItself(t reflect.Type) bool {
	return t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler)
}

// yamlKeys returns the dotted paths of every key of the config type t, nested: a struct's
// keys under its own, `[]` after a list of structs ("tasks[].path"), inline structs
// flattened. Maps, lists of scalars and scalars (durations too) are leaves, and so are
// types that decode their own YAML (yaml.Unmarshaler), lists of them too: a pipeline's
// processors ("pipelines[].processors") are one key.
func yamlKeys(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var keys []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if opts == "inline" {
			keys = append(keys, yamlKeys(ft, prefix)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := prefix + name
		switch {
		case decodesItself(ft):
			keys = append(keys, key)
		case ft.Kind() == reflect.Struct:
			keys = append(keys, yamlKeys(ft, key+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && !decodesItself(ft.Elem()):
			keys = append(keys, yamlKeys(ft.Elem(), key+"[].")...)
		default:
			keys = append(keys, key)
		}
	}
	return keys
}

func TestYAMLKeys(t *testing.T) {
	keys := yamlKeys(reflect.TypeFor[agent.Config](), "")
	for _, k := range []string{"kafka.brokers", "kafka.tls.ca_file", "kafka.sasl.mechanism", "tasks[].multiline.pattern",
		"tasks[].fields", "etcd.endpoints", "etcd.collect_key", "shutdown_timeout", "log.level"} {
		require.Contains(t, keys, k)
	}
	keys = yamlKeys(reflect.TypeFor[transfer.Config](), "")
	for _, k := range []string{"pipelines[].name", "pipelines[].topics", "pipelines[].topic_regex", "pipelines[].keep_original",
		"pipelines[].processors", "etcd.pipelines_key"} {
		require.Contains(t, keys, k)
	}
	for _, k := range keys {
		require.False(t, strings.HasPrefix(k, "pipelines[].processors."), "a processor decodes its own YAML: %s", k)
	}
	keys = yamlKeys(reflect.TypeFor[sysmon.FileConfig](), "")
	require.Contains(t, keys, "interval") // inline
	require.Contains(t, keys, "metrics.listen")
	require.NotContains(t, keys, "config.interval")
}

// TestConfigurationReference: every key of every daemon's config file has a row in that
// daemon's section of configuration.md, and every row is a key. logagent's file is the
// agent's config plus a `sysmon:` section (read by cmd/logagent) with the keys of sysmon's
// config, documented once, in sysmon's table. logctl's flags are checked by cmd/logctl's
// TestConfigurationReferenceFlags.
func TestConfigurationReference(t *testing.T) {
	secs := sections(t, "configuration.md", 2, "logagent", "logtransfer", "sysmon", "logctl")
	sysmonKeys := yamlKeys(reflect.TypeFor[sysmon.FileConfig](), "")
	logagentKeys := append(yamlKeys(reflect.TypeFor[agent.Config](), ""), yamlKeys(reflect.TypeFor[sysmon.Config](), "sysmon.")...)
	for _, tt := range []struct {
		binary string
		keys   []string
	}{
		{"logagent", logagentKeys},
		{"logtransfer", yamlKeys(reflect.TypeFor[transfer.Config](), "")},
		{"sysmon", sysmonKeys},
	} {
		t.Run(tt.binary, func(t *testing.T) {
			rows := TableRows(secs[tt.binary])
			want := map[string]bool{}
			for _, k := range tt.keys {
				if sub, ok := strings.CutPrefix(k, "sysmon."); ok && tt.binary == "logagent" {
					require.Contains(t, sysmonKeys, sub, "logagent's %s is not a key of sysmon's config", k)
					want["sysmon"] = true
					continue
				}
				want[k] = true
			}
			for k := range want {
				cells, ok := rows[k]
				if !assert(t, ok, "configuration.md, %s: no row for the key `%s`", tt.binary, k) {
					continue
				}
				assert(t, len(cells) >= 3 && cells[2] != "", "configuration.md, %s: `%s` has no meaning", tt.binary, k)
			}
			for k := range rows {
				assert(t, want[k], "configuration.md, %s: `%s` is not a key of its config", tt.binary, k)
			}
		})
	}
}
