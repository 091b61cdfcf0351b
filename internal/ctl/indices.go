package ctl

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/logcollect/logcollect/internal/esindex"
)

// DefaultIndexTemplate is logtransfer's default `index` setting: the names
// `logctl indices` reads back.
const DefaultIndexTemplate = "{topic}-{yyyy.MM.dd}"

// Indices lists and prunes logtransfer's dated indices, by the rules
// logtransfer's retention follows (package esindex): a name its `index`
// setting makes, a mapping with kafka.topic, and an age from the name's
// date.
type Indices struct {
	es       *elastic.Client
	urls     []string
	timeout  time.Duration
	template *esindex.Template
	topics   []string // lower-cased; empty: every topic
}

// NewIndices returns an Indices on es (whose urls appear in errors) for
// the index setting template (DefaultIndexTemplate when empty), limited to
// topics when there are any, with timeout for each request.
func NewIndices(es *elastic.Client, urls []string, timeout time.Duration, template string, topics []string) (*Indices, error) {
	tmpl, err := esindex.Parse(cmpOr(template, DefaultIndexTemplate))
	if err != nil {
		return nil, fmt.Errorf("--index %q: %w", template, err)
	}
	if err := tmpl.CheckDated(); err != nil {
		return nil, fmt.Errorf("--index %q: %w", tmpl, err)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	lower := make([]string, len(topics))
	for i, tp := range topics {
		lower[i] = strings.ToLower(tp)
	}
	return &Indices{es: es, urls: urls, timeout: timeout, template: tmpl, topics: lower}, nil
}

// List returns the indices, oldest first.
func (x *Indices) List(ctx context.Context) ([]esindex.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	infos, err := esindex.List(ctx, x.es, x.template)
	if err != nil {
		return nil, connError("elasticsearch", x.urls, "list indices", err)
	}
	if len(x.topics) == 0 {
		return infos, nil
	}
	return slices.DeleteFunc(infos, func(i esindex.Info) bool { return !slices.Contains(x.topics, i.Topic) }), nil
}

// Pruned is an index Prune deleted (or, with dry run, would delete).
type Pruned struct {
	esindex.Info
	Deleted bool   `json:"deleted"`         // false with dry run, or when it was gone already
	Error   string `json:"error,omitempty"` // the deletion failed
}

// Prune deletes the indices whose every document is older than olderThan
// (esindex.Index.OlderThan) at now, or only lists them when dryRun. It goes
// on after a failed deletion and returns the first error after the others.
func (x *Indices) Prune(ctx context.Context, olderThan esindex.Age, now time.Time, dryRun bool) ([]Pruned, error) {
	if olderThan < esindex.MinAge {
		return nil, fmt.Errorf("--older-than %s: must be at least %s", olderThan, esindex.MinAge)
	}
	infos, err := x.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Pruned
	var firstErr error
	for _, info := range esindex.Old(infos, olderThan.D(), now) {
		p := Pruned{Info: info}
		if !dryRun {
			dctx, cancel := context.WithTimeout(ctx, x.timeout)
			p.Deleted, err = esindex.Delete(dctx, x.es, info.Name)
			cancel()
			if err != nil {
				p.Error = err.Error()
				if firstErr == nil {
					firstErr = connError("elasticsearch", x.urls, "delete index "+info.Name, err)
				}
			}
		}
		out = append(out, p)
	}
	return out, firstErr
}

// WriteIndices writes the indices as a table (index, topic, date, docs,
// size, health), with a total line.
func WriteIndices(w io.Writer, infos []esindex.Info) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "INDEX\tTOPIC\tDATE\tDOCS\tSIZE\tHEALTH")
	var docs, size int64
	for _, i := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", i.Name, i.Topic, period(i.Index), count(i.Docs), formatBytes(i.Bytes), cmpOr(i.Health, "-"))
		docs += max(i.Docs, 0)
		size += max(i.Bytes, 0)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d indices, %d docs, %s\n", len(infos), docs, formatBytes(size))
	return err
}

// WritePruned writes one line per index pruned, then a total line.
func WritePruned(w io.Writer, ps []Pruned, dryRun bool) error {
	var docs, size int64
	n := 0
	for _, p := range ps {
		var err error
		switch {
		case dryRun:
			_, err = fmt.Fprintf(w, "would delete %s (%s, %s docs, %s)\n", p.Name, period(p.Index), count(p.Docs), formatBytes(p.Bytes))
		case p.Error != "":
			_, err = fmt.Fprintf(w, "FAILED to delete %s: %s\n", p.Name, p.Error)
		case p.Deleted:
			_, err = fmt.Fprintf(w, "deleted %s (%s, %s docs, %s)\n", p.Name, period(p.Index), count(p.Docs), formatBytes(p.Bytes))
		default:
			_, err = fmt.Fprintf(w, "%s: already gone\n", p.Name)
		}
		if err != nil {
			return err
		}
		if dryRun || p.Deleted {
			n++
			docs += max(p.Docs, 0)
			size += max(p.Bytes, 0)
		}
	}
	verb := "deleted"
	if dryRun {
		verb = "would be deleted (dry run)"
	}
	_, err := fmt.Fprintf(w, "%d indices %s, %d docs, %s\n", n, verb, docs, formatBytes(size))
	return err
}

// period is the date an index holds: the day, or the hour for hourly
// indices, the month or the year for coarser ones.
func period(i esindex.Index) string {
	switch d := i.End.Sub(i.Start); {
	case d <= time.Hour:
		return i.Start.Format("2006-01-02T15Z")
	case d <= 24*time.Hour:
		return i.Start.Format("2006-01-02")
	case d <= 31*24*time.Hour:
		return i.Start.Format("2006-01")
	}
	return i.Start.Format("2006")
}

func count(n int64) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// formatBytes writes n bytes in binary units (1.5KiB, 3.2GiB); "-" when
// unknown (negative).
func formatBytes(n int64) string {
	if n < 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
