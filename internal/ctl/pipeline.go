package ctl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/logcollect/logcollect/internal/record"
	"github.com/logcollect/logcollect/pipeline"
)

// PipelineTest is a run of `logctl pipeline test`: the documents a
// logtransfer pipeline makes of sample lines, without Kafka or
// Elasticsearch.
type PipelineTest struct {
	// Config is logtransfer's config file (its pipelines: key alone is
	// read, see pipeline.LoadFile) or a list of pipelines as kept in etcd.
	Config string
	// Pipeline is the name of the pipeline to run.
	Pipeline string
	// Records: each input line is a whole record as logagent sends it (its
	// JSON, or any value); otherwise each line is a line of a log file,
	// the message of the record logagent would send.
	Records bool
	// Verbose also reports the dropped lines on stderr.
	Verbose bool
	// Now is the read time of the lines (time.Now when nil).
	Now func() time.Time
}

// PipelineTestResult counts what a PipelineTest did with its lines.
type PipelineTestResult struct {
	Lines, Failed, Dropped int
}

// ErrLinesFailed is returned by Run when the pipeline failed on some lines
// (their documents are printed all the same, flagged).
var ErrLinesFailed = errors.New("the pipeline failed on some lines")

// maxLineBytes bounds one input line, as logagent's max_line_bytes does a
// line of a file (its default is 1 MiB; this leaves room).
const maxLineBytes = 16 << 20

// Run runs the pipeline on each line of in and writes, for each line it
// does not drop, the document logtransfer would index as one line of JSON
// to out (keys sorted, without the kafka field logtransfer adds): the event
// is built with pipeline.BuildDocument, the function logtransfer calls. A
// line the pipeline fails on is printed flagged, as logtransfer indexes it,
// and its error goes to errOut as "line N: error"; a dropped line prints
// nothing (with Verbose, "line N: dropped" on errOut). The error is
// ErrLinesFailed, wrapped with the count, when any line failed.
func (pt PipelineTest) Run(in io.Reader, out, errOut io.Writer) (PipelineTestResult, error) {
	var res PipelineTestResult
	cfgs, err := pipeline.LoadFile(pt.Config)
	if err != nil {
		return res, err
	}
	set, err := pipeline.NewSet(cfgs) // checked by LoadFile
	if err != nil {
		return res, err
	}
	var p *pipeline.Pipeline
	var names []string
	for _, q := range set.Pipelines() {
		names = append(names, q.Name())
		if q.Name() == pt.Pipeline {
			p = q
		}
	}
	switch {
	case p == nil && len(names) == 0:
		return res, fmt.Errorf("%s: no pipelines", pt.Config)
	case p == nil:
		return res, fmt.Errorf("%s: no pipeline %q; there are: %s", pt.Config, pt.Pipeline, strings.Join(names, ", "))
	}
	now := pt.Now
	if now == nil {
		now = time.Now
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	w := bufio.NewWriter(out)
	var value, body []byte
	for sc.Scan() {
		res.Lines++
		line := sc.Bytes()
		read := now()
		value = line
		if !pt.Records {
			// The record logagent sends for a line (format: json), without
			// the fields of its host and file, which are not known here.
			value = append(value[:0:0], `{"@timestamp":"`...)
			value = read.UTC().AppendFormat(value, time.RFC3339Nano)
			value = append(value, `","message":`...)
			value = record.AppendJSONString(value, line)
			value = append(value, '}')
		}
		d := pipeline.BuildDocument(p, value, read, nil, body[:0])
		body = d.Body
		switch {
		case d.Dropped:
			res.Dropped++
			if pt.Verbose {
				fmt.Fprintf(errOut, "line %d: dropped\n", res.Lines)
			}
			continue
		case d.Err != nil:
			res.Failed++
			if err := w.Flush(); err != nil { // the documents before it first
				return res, err
			}
			fmt.Fprintf(errOut, "line %d: %v\n", res.Lines, d.Err)
		}
		w.Write(d.Body)
		if err := w.WriteByte('\n'); err != nil {
			return res, err
		}
	}
	if err := w.Flush(); err != nil {
		return res, err
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("line %d: %w", res.Lines+1, err)
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("%w: %d of %d lines", ErrLinesFailed, res.Failed, res.Lines)
	}
	return res, nil
}
