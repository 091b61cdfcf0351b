package transfer

import (
	"fmt"
	"reflect"
	"strings"
)

// ReloadFile reads the config file at path again, as logtransfer does on
// SIGHUP, and reloads its pipelines (ReloadPipelines): only the pipelines
// change without a restart. The file is read as at start (environment
// variables expanded, unknown keys refused); a file that cannot be read,
// or pipelines that do not compile, are refused and counted, and the
// running pipelines stay. started is the file as it was read at start,
// before flags and defaults: the keys whose values differ from it are
// returned in the config's order (such as "bulk.actions"), to be logged as waiting for a
// restart. Their values are never returned: they may be secrets.
func (t *Transfer) ReloadFile(path string, started Config) (restart []string, err error) {
	c, err := ReadConfig(path)
	if err != nil {
		t.m.PipelineReloads.WithLabelValues(reloadFile, "error").Inc()
		return nil, err
	}
	if err := t.ReloadPipelines(c.Pipelines); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return changedKeys(reflect.ValueOf(started), reflect.ValueOf(c), ""), nil
}

// changedKeys returns the dotted yaml keys whose values differ between a
// and b, two values of one config struct type, leaving out pipelines.
func changedKeys(a, b reflect.Value, prefix string) []string {
	var out []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || prefix == "" && name == "pipelines" {
			continue
		}
		av, bv := a.Field(i), b.Field(i)
		if reflect.DeepEqual(av.Interface(), bv.Interface()) {
			continue
		}
		key := prefix + name
		switch {
		case opts == "inline" && f.Type.Kind() == reflect.Struct:
			out = append(out, changedKeys(av, bv, prefix)...)
		case f.Type.Kind() == reflect.Struct:
			out = append(out, changedKeys(av, bv, key+".")...)
		default:
			out = append(out, key)
		}
	}
	return out
}
