package ctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return nil
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// WriteAgents writes agents as a table; with metrics, the scraped columns
// too.
func WriteAgents(w io.Writer, agents []Agent, metrics bool) error {
	tw := newTable(w)
	if metrics {
		fmt.Fprintln(tw, "HOST\tIP\tVERSION\tUPTIME\tTASKS\tLINES/S\tLAG BYTES\tSEND ERRORS")
	} else {
		fmt.Fprintln(tw, "HOST\tIP\tVERSION\tUPTIME\tTASKS")
	}
	for _, a := range agents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d", a.Hostname, a.IP, a.Version, FormatUptime(a.Uptime), a.Tasks)
		switch m := a.Metrics; {
		case !metrics:
		case m == nil:
			fmt.Fprint(tw, "\t-\t-\t-")
		case m.Error != "":
			fmt.Fprintf(tw, "\t-\t-\t-\t(%s)", m.Error)
		default:
			fmt.Fprintf(tw, "\t%.1f\t%.0f\t%.0f", m.LinesPerSecond, m.LagBytes, m.SendErrors)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// WriteLag writes the lag of a group as a table, with a total line.
func WriteLag(w io.Writer, l GroupLag) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER")
	for _, p := range l.Partitions {
		committed, lag := strconv.FormatInt(p.Committed, 10), strconv.FormatInt(p.Lag, 10)
		if p.Committed < 0 {
			committed = "-"
		}
		if p.Error != "" {
			lag = "? (" + p.Error + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", p.Topic, p.Partition, committed, p.End, lag, cmpOr(p.Member, "-"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "group %s (%s): total lag %d\n", l.Group, l.State, l.Total)
	return err
}

// WriteSetResults writes one line per host written or failed.
func WriteSetResults(w io.Writer, rs []SetResult) error {
	for _, r := range rs {
		var err error
		if r.Err != nil {
			_, err = fmt.Fprintf(w, "%s: %s: FAILED: %v\n", r.IP, r.Key, r.Err)
		} else {
			topics := ""
			if len(r.TopicsAdded) > 0 {
				topics = fmt.Sprintf("; logtransfer now also consumes %s (%s)", strings.Join(r.TopicsAdded, ", "), r.TopicsKey)
			}
			_, err = fmt.Fprintf(w, "%s: %s: written (revision %d)%s\n", r.IP, r.Key, r.Revision, topics)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteConfigs writes collect configs as stored; with headers, each after a
// "# IP KEY (revision N)" line, and "# (no key)" for a missing key.
func WriteConfigs(w io.Writer, cfgs []CollectConfig, headers bool) error {
	for _, c := range cfgs {
		if headers {
			fmt.Fprintf(w, "# %s %s (revision %d)\n", c.IP, c.Key, c.Revision)
		}
		var err error
		if c.Value == nil {
			_, err = fmt.Fprintln(w, "# (no key)")
		} else {
			_, err = fmt.Fprintf(w, "%s\n", bytes.TrimSpace(c.Value))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
