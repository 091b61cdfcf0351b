package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/logcollect/logcollect/internal/config"
)

// LoadFile reads the pipelines of a file without logtransfer's package: the
// `pipelines:` key of a logtransfer config file, or a list of pipelines as
// kept in etcd (a YAML or JSON list at the top level). The other keys of a
// config file are not read, so that their environment variables and
// ${file:} secrets are not needed: environment variables are expanded in the
// pipelines alone (internal/config.ExpandEnv, as logtransfer does for the
// whole file). The pipelines are checked as NewSet does; a file without
// pipelines gives none. Line numbers in errors count from the start of the
// pipelines.
func LoadFile(path string) ([]Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Kind == 0 { // empty file
		return nil, nil
	}
	root := doc.Content[0]
	list := root
	if root.Kind == yaml.MappingNode {
		list = nil
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "pipelines" {
				list = root.Content[i+1]
			}
		}
		if list == nil {
			return nil, nil
		}
	}
	text, err := yaml.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if text, err = config.ExpandEnv(text, os.LookupEnv); err != nil {
		return nil, fmt.Errorf("%s: pipelines (line %d): %w", path, list.Line, err)
	}
	cfgs, err := parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: pipelines (line %d): %w", path, list.Line, err)
	}
	return cfgs, nil
}

// parse is Parse without the "pipelines: " prefix on decoding errors, and
// with an empty document as no pipelines.
func parse(data []byte) ([]Config, error) {
	var cfgs []Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfgs); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if _, err := NewSet(cfgs); err != nil {
		return nil, err
	}
	return cfgs, nil
}
