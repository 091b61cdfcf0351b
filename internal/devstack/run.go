package devstack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/logcollect/logcollect/internal/ctl"
	"github.com/logcollect/logcollect/internal/servers"
)

// PrintSummary writes what runs where, and commands to try.
func (s *Stack) PrintSummary(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	kafka := "Apache Kafka " + servers.KafkaVersion + " (KRaft)"
	if s.kfake != nil {
		kafka = "kfake, in-process (EMBEDDED=1)"
	}
	fmt.Fprintf(tw, "etcd\t%s\tembedded\n", strings.Join(s.etcd.Endpoints(), ","))
	fmt.Fprintf(tw, "kafka\t%s\t%s\n", strings.Join(s.Brokers(), ","), kafka)
	fmt.Fprintf(tw, "elasticsearch\t%s\t%s, indices {%s}-YYYY.MM.DD\n", s.es.URL(), s.es.Version(), strings.Join(Topics(), ","))
	for _, d := range s.daemons {
		note := "log " + s.rel(d.proc.Log)
		if d.note != "" {
			note += ", " + d.note
		}
		fmt.Fprintf(tw, "%s\thttp://%s/metrics\t%s\n", d.name, d.addr, note)
	}
	if s.prom != nil {
		fmt.Fprintf(tw, "prometheus\t%s\tdeploy/prometheus/prometheus.yml\n", s.prom.URL())
	}
	for i, path := range []string{s.DemoLog(), s.AppLog(), s.SyslogFile()} {
		fmt.Fprintf(tw, "demo logs\t%s\ttopic %s, pipeline %s\n", s.rel(path), Topics()[i], []string{"web", "app", "syslog"}[i])
	}
	tw.Flush()
	fmt.Fprintf(w, "collect key %s; pipelines in %s\n", CollectKey(), s.rel(s.path("config", "logtransfer.yaml")))
	env := ""
	if s.cfg.Ports != DefaultPorts() {
		env = fmt.Sprintf("LOGCTL_ETCD=%s LOGCTL_BROKERS=%s LOGCTL_ES=%s ",
			strings.Join(s.etcd.Endpoints(), ","), strings.Join(s.Brokers(), ","), s.es.URL())
	}
	bin := s.rel(s.cfg.BinDir)
	fmt.Fprintf(w, "try:  %s%s/logctl search --since 5m -f checkout\n", env, bin)
	fmt.Fprintf(w, "      %s%s/logctl search --since 5m http.response.status_code:500\n", env, bin)
	fmt.Fprintf(w, "      %s%s/logctl agents --metrics\n", env, bin)
	fmt.Fprintf(w, "      %s%s/logctl config get %s\n", env, bin, AgentIP)
	fmt.Fprintf(w, "state in %s; Ctrl-C stops everything, a second run resumes.\n", s.rel(s.cfg.Dir))
}

// rel is path relative to the working directory when it is below it.
func (s *Stack) rel(path string) string {
	wd, err := os.Getwd()
	if err == nil && strings.HasPrefix(path, wd+string(os.PathSeparator)) {
		return strings.TrimPrefix(path, wd+string(os.PathSeparator))
	}
	return path
}

// Progress is what the progress line shows: demo lines written in this run, and the
// counters of the running daemons (-1 while a scrape fails).
type Progress struct {
	Generated, Sent, Indexed int64
}

func (p Progress) String() string {
	n := func(v int64) string {
		if v < 0 {
			return "?"
		}
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("lines generated %s · sent to Kafka %s · indexed %s", n(p.Generated), n(p.Sent), n(p.Indexed))
}

// Progress scrapes logagent_records_sent_total and logtransfer_docs_indexed_total.
func (s *Stack) Progress(ctx context.Context) Progress {
	return Progress{
		Generated: s.Generated(),
		Sent:      s.metric(ctx, "logagent", "logagent_records_sent_total"),
		Indexed:   s.metric(ctx, "logtransfer", "logtransfer_docs_indexed_total"),
	}
}

// metric scrapes a running daemon and returns the metric (the sum of its series), -1 when the
// daemon does not run or the scrape fails.
func (s *Stack) metric(ctx context.Context, daemon, name string) int64 {
	addr := s.MetricsAddr(daemon)
	if addr == "" {
		return -1
	}
	m, err := ctl.Scrape(ctx, &http.Client{Timeout: time.Second}, "http://"+addr+"/metrics")
	if err != nil {
		return -1
	}
	return int64(m[name])
}

// Run shows the progress on w until ctx is done (then it returns nil) or a part of the
// stack fails (then it returns why). On a terminal the line is rewritten every second;
// elsewhere a line is printed every `every`.
func (s *Stack) Run(ctx context.Context, w io.Writer, every time.Duration) error {
	tty := isTerminal(w)
	if tty {
		every = time.Second
		defer fmt.Fprintln(w)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	exited := make(chan *daemon, len(s.daemons))
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, d := range s.daemons {
		go func() {
			select {
			case <-d.run.Done():
				exited <- d
			case <-watchCtx.Done():
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-s.genDone:
			s.genDone <- err // for Stop
			return err
		case d := <-exited:
			return fmt.Errorf("%s exited: %v\n%s", d.name, d.run.Err(), d.proc.LogTail())
		case <-tick.C:
			line := s.Progress(ctx).String()
			if tty {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
