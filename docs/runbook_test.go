package docs

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/dashboards"
)

// runbookURL is where the alerts' runbook_url annotations point: runbook.md on the
// repository's main branch, followed by "#" and the alert's anchor.
const runbookURL = "https://github.com/logcollect/logcollect/blob/main/docs/runbook.md"

// TestRunbook: every alert of dashboards/prometheus/alerts.yml has a "## AlertName" entry in
// runbook.md saying what it means, its causes and what to do, and every entry is an alert.
func TestRunbook(t *testing.T) {
	entries := sections(t, "runbook.md", 2)
	rules, err := dashboards.AlertRules()
	require.NoError(t, err)
	require.NotEmpty(t, rules)
	alerts := map[string]bool{}
	for _, r := range rules {
		alerts[r.Alert] = true
		lines, ok := entries[r.Alert]
		if !assert(t, ok, "runbook.md: no \"## %s\" entry", r.Alert) {
			continue
		}
		text := strings.Join(lines, "\n")
		for _, part := range []string{"**Means**", "**Causes**", "**Do**"} {
			assert(t, strings.Contains(text, part), "runbook.md, %s: no %s part", r.Alert, part)
		}
	}
	for name := range entries {
		assert(t, alerts[name], "runbook.md: %q is not an alert of dashboards/prometheus/alerts.yml", name)
	}
}

// TestRunbookURLs: every alert's runbook_url annotation is runbookURL with the anchor of the
// alert's own entry, and that anchor exists in runbook.md.
func TestRunbookURLs(t *testing.T) {
	page, err := Files.ReadFile("runbook.md")
	require.NoError(t, err)
	anchors := Anchors(string(page))
	rules, err := dashboards.AlertRules()
	require.NoError(t, err)
	for _, r := range rules {
		url, ok := r.Annotations["runbook_url"]
		if !assert(t, ok, "alerts.yml, %s: no runbook_url annotation", r.Alert) {
			continue
		}
		base, anchor, _ := strings.Cut(url, "#")
		assert(t, base == runbookURL, "alerts.yml, %s: runbook_url %q is not under %s", r.Alert, url, runbookURL)
		assert(t, anchor == Anchor(r.Alert), "alerts.yml, %s: runbook_url %q: want the anchor #%s", r.Alert, url, Anchor(r.Alert))
		assert(t, anchors[anchor], "alerts.yml, %s: runbook_url %q: runbook.md has no heading with the anchor #%s", r.Alert, url, anchor)
	}
}
