package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/docs"
)

// TestConfigurationReferenceFlags: every flag that every logctl command has (the
// connection flags) has a row in the logctl section of docs/configuration.md, and every
// flag row there is such a flag. It is the one check of that page that is not in package
// docs, beside the page: the flags are defined by rootCommand, in this package main, which
// no other package can import.
func TestConfigurationReferenceFlags(t *testing.T) {
	var lines []string
	secs, err := docs.Sections("configuration.md")
	require.NoError(t, err)
	for _, s := range secs {
		if s.Level == 2 && s.Title == "logctl" {
			lines = s.Lines
		}
	}
	require.NotEmpty(t, lines, "docs/configuration.md: no \"## logctl\" section")
	rows := docs.TableRows(lines)
	root, _ := rootCommand()
	flags := map[string]bool{}
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		name := "--" + f.Name
		flags[name] = true
		if _, ok := rows[name]; !ok {
			t.Errorf("docs/configuration.md, logctl: no row for the flag `%s`", name)
		}
	})
	require.Contains(t, flags, "--etcd")
	for k := range rows {
		if strings.HasPrefix(k, "--") && !flags[k] {
			t.Errorf("docs/configuration.md, logctl: `%s` is not a logctl flag", k)
		}
	}
}
