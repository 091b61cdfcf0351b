package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the YAML config file at path into v: it expands environment
// variables (ExpandEnv with os.LookupEnv) and decodes strictly (Decode). It
// does not validate. A read error is wrapped as "read config: ...", any other
// as "config <path>: ..." with the line number where there is one.
func Load(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if err := Decode(data, os.LookupEnv, v); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Read returns the config of type C in the YAML file at path, read with Load:
// a binary's ReadConfig, which its flags override before it validates.
func Read[C any](path string) (C, error) {
	var c C
	if err := Load(path, &c); err != nil {
		var zero C
		return zero, err
	}
	return c, nil
}

// Decode expands the environment in data (lookup reads it, see ExpandEnv)
// and decodes the result into v strictly: an unknown key is an error, and so
// is a second YAML document. An empty document leaves v unchanged. Errors
// never show a value read by ${file:} (see WithoutFileSecrets).
func Decode(data []byte, lookup func(string) (string, bool), v any) error {
	data, err := ExpandEnv(data, lookup)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return WithoutFileSecrets(err) // a type error quotes the value
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return err
		}
		return fmt.Errorf("line %d: a second YAML document is not allowed", extra.Line)
	}
	return nil
}

// envName is what ExpandEnv accepts as a variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ExpandEnv expands ${VAR} and ${VAR:-default} in data, reading variables
// with lookup (os.LookupEnv in Load), and ${file:PATH} with the content of
// the file at PATH (see readSecretFile), for secrets mounted as files
// (Docker and Kubernetes secrets, systemd credentials).
//
// The default is used when VAR is unset or empty. An unset ${VAR} without a
// default is an error. A lone $ stays as it is, so regexps such as `foo$` are
// safe, and $${ is a literal ${. Lines whose first non-blank character is #
// (comments, or such a line in a block scalar) are not expanded; trailing
// comments are. Values are inserted verbatim, before YAML parsing: quote the
// reference ("${VAR}") when the value may contain YAML syntax such as ": " or
// " #". Errors name the line.
func ExpandEnv(data []byte, lookup func(string) (string, bool)) ([]byte, error) {
	if !bytes.Contains(data, []byte("${")) {
		return data, nil
	}
	out := make([]byte, 0, len(data))
	lineNo := 0
	for line := range bytes.Lines(data) {
		lineNo++
		if bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("#")) {
			out = append(out, line...)
			continue
		}
		for len(line) > 0 {
			i := bytes.IndexByte(line, '$')
			if i < 0 {
				out = append(out, line...)
				break
			}
			out, line = append(out, line[:i]...), line[i:]
			switch {
			case bytes.HasPrefix(line, []byte("$${")):
				out, line = append(out, "${"...), line[3:]
			case bytes.HasPrefix(line, []byte("${")):
				end := bytes.IndexByte(line, '}')
				if end < 0 {
					return nil, fmt.Errorf("line %d: unterminated ${ (write $${ for a literal ${)", lineNo)
				}
				if path, ok := strings.CutPrefix(string(line[2:end]), "file:"); ok {
					v, err := readSecretFile(path)
					if err != nil {
						return nil, fmt.Errorf("line %d: %w", lineNo, err)
					}
					out, line = append(out, v...), line[end+1:]
					continue
				}
				name, def, hasDef := strings.Cut(string(line[2:end]), ":-")
				if !envName.MatchString(name) {
					return nil, fmt.Errorf("line %d: invalid variable reference %q: want ${NAME} or ${NAME:-default}", lineNo, line[:end+1])
				}
				v, ok := lookup(name)
				switch {
				case hasDef && v == "":
					v = def
				case !ok:
					return nil, fmt.Errorf("line %d: environment variable %s is not set (use ${%s:-default} for a default)", lineNo, name, name)
				}
				out, line = append(out, v...), line[end+1:]
			default:
				out, line = append(out, '$'), line[1:]
			}
		}
	}
	return out, nil
}

// readSecretFile returns the content of the file at path without its final
// newline, for ${file:PATH}. Errors name the file, never its content. A
// file of several lines is refused: its value would be cut into the YAML.
func readSecretFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("${file:}: want ${file:PATH}")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("${file:%s}: %w", path, err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if strings.ContainsAny(v, "\r\n") {
		return "", fmt.Errorf("${file:%s}: the file holds more than one line", path)
	}
	addFileSecret(v)
	return v, nil
}
