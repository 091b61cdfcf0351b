// Command logctl is the operator's command line for logcollect: collect
// configs in etcd, live agents, log search in Elasticsearch, the
// transfer's consumer lag in Kafka, its pipelines tried on sample lines, and
// its daily indices listed and pruned. The logic is in internal/ctl; this file
// only wires flags, environment and signals.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/ctl"
	"github.com/logcollect/logcollect/internal/esindex"
	"github.com/logcollect/logcollect/metrics"
)

func main() { os.Exit(logctl(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// logctl runs the command line until it is done or interrupted (SIGINT,
// SIGTERM: -f then ends with status 0) and returns the exit status: 1 after
// printing the error, 0 also when an edit changed nothing.
func logctl(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, args, stdin, stdout, stderr)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "logctl:", err)
	if errors.Is(err, ctl.ErrNoChange) {
		return 0
	}
	return 1
}

// globals are the connection flags shared by every command.
type globals struct {
	etcd, brokers, es []string
	esAuth            ctl.ElasticsearchAuth
	etcdAuth          ctl.EtcdAuth
	kafkaAuth         ctl.KafkaAuth
	timeout           time.Duration
	collectKey        string
	topicsKey         string
	output            string
}

func (g *globals) json() (bool, error) {
	switch g.output {
	case "", "table", "text":
		return false, nil
	case "json":
		return true, nil
	}
	return false, fmt.Errorf("-o %q: want json or table", g.output)
}

// envList is the comma-separated list in the environment variable, or def.
func envList(name, def string) []string {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	return strings.Split(v, ",")
}

// envOr is the environment variable's value when it is set, even to "", or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	root, _ := rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// rootCommand returns logctl's command tree, with the connection flags it sets.
func rootCommand() (*cobra.Command, *globals) {
	g := &globals{}
	root := &cobra.Command{
		Use:           "logctl",
		Short:         "Operate a logcollect pipeline: collect configs, agents, log search, consumer lag",
		Version:       metrics.DefaultBuildInfo().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringSliceVar(&g.etcd, "etcd", envList("LOGCTL_ETCD", ctl.DefaultEtcd), "etcd endpoints (env LOGCTL_ETCD)")
	pf.StringSliceVar(&g.brokers, "brokers", envList("LOGCTL_BROKERS", ctl.DefaultBrokers), "Kafka brokers (env LOGCTL_BROKERS)")
	pf.StringSliceVar(&g.es, "es", envList("LOGCTL_ES", ctl.DefaultElasticsearch), "Elasticsearch URLs (env LOGCTL_ES)")
	pf.StringVar(&g.esAuth.CAFile, "es-ca-file", os.Getenv("LOGCTL_ES_CA_FILE"), "PEM CA bundle for https Elasticsearch URLs (env LOGCTL_ES_CA_FILE)")
	pf.StringVar(&g.esAuth.Username, "es-user", os.Getenv("LOGCTL_ES_USER"), "Elasticsearch user, with the password in env LOGCTL_ES_PASSWORD (env LOGCTL_ES_USER)")
	// Secrets only from the environment: a flag would show in ps.
	g.esAuth.Password, g.esAuth.APIKey = os.Getenv("LOGCTL_ES_PASSWORD"), os.Getenv("LOGCTL_ES_API_KEY")
	pf.StringVar(&g.etcdAuth.CAFile, "etcd-ca-file", os.Getenv("LOGCTL_ETCD_CA_FILE"), "PEM CA bundle for etcd; turns TLS on, as do https:// endpoints (env LOGCTL_ETCD_CA_FILE)")
	pf.StringVar(&g.etcdAuth.CertFile, "etcd-cert-file", os.Getenv("LOGCTL_ETCD_CERT_FILE"), "PEM client certificate for etcd, with --etcd-key-file (env LOGCTL_ETCD_CERT_FILE)")
	pf.StringVar(&g.etcdAuth.KeyFile, "etcd-key-file", os.Getenv("LOGCTL_ETCD_KEY_FILE"), "PEM client key for etcd (env LOGCTL_ETCD_KEY_FILE)")
	pf.StringVar(&g.etcdAuth.Username, "etcd-user", os.Getenv("LOGCTL_ETCD_USER"), "etcd user, with the password in env LOGCTL_ETCD_PASSWORD (env LOGCTL_ETCD_USER)")
	g.etcdAuth.Password = os.Getenv("LOGCTL_ETCD_PASSWORD")
	pf.BoolVar(&g.kafkaAuth.TLS, "kafka-tls", os.Getenv("LOGCTL_KAFKA_TLS") == "true", "TLS to Kafka with the system roots; implied by --kafka-ca-file and --kafka-cert-file (env LOGCTL_KAFKA_TLS=true)")
	pf.StringVar(&g.kafkaAuth.CAFile, "kafka-ca-file", os.Getenv("LOGCTL_KAFKA_CA_FILE"), "PEM CA bundle for Kafka (env LOGCTL_KAFKA_CA_FILE)")
	pf.StringVar(&g.kafkaAuth.CertFile, "kafka-cert-file", os.Getenv("LOGCTL_KAFKA_CERT_FILE"), "PEM client certificate for Kafka, with --kafka-key-file (env LOGCTL_KAFKA_CERT_FILE)")
	pf.StringVar(&g.kafkaAuth.KeyFile, "kafka-key-file", os.Getenv("LOGCTL_KAFKA_KEY_FILE"), "PEM client key for Kafka (env LOGCTL_KAFKA_KEY_FILE)")
	pf.StringVar(&g.kafkaAuth.SASLMechanism, "kafka-sasl", os.Getenv("LOGCTL_KAFKA_SASL"), "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (env LOGCTL_KAFKA_SASL)")
	pf.StringVar(&g.kafkaAuth.Username, "kafka-user", os.Getenv("LOGCTL_KAFKA_USER"), "Kafka SASL user, with the password in env LOGCTL_KAFKA_PASSWORD (env LOGCTL_KAFKA_USER)")
	g.kafkaAuth.Password = os.Getenv("LOGCTL_KAFKA_PASSWORD")
	pf.DurationVar(&g.timeout, "timeout", ctl.DefaultTimeout, "timeout of each request to etcd, Kafka or Elasticsearch")
	pf.StringVar(&g.topicsKey, "topics-key", envOr("LOGCTL_TOPICS_KEY", ctl.DefaultTopicsKey), "logtransfer's etcd.topics_key, where config set/edit add the tasks' new topics; \"\" leaves it alone (env LOGCTL_TOPICS_KEY)")
	pf.StringVar(&g.collectKey, "collect-key", collect.DefaultCollectKey, "the agents' etcd.collect_key ({ip}, {hostname})")
	root.AddCommand(configCmd(g), agentsCmd(g), searchCmd(g), lagCmd(g), pipelineCmd(), indicesCmd(g), etcdAuthCmd(g))
	return root, g
}

func addOutput(cmd *cobra.Command, g *globals) {
	cmd.Flags().StringVarP(&g.output, "output", "o", "table", "output format: table or json")
}

func (g *globals) store() (*ctl.ConfigStore, func(), error) {
	cli, err := ctl.NewSecureEtcdClient(g.etcd, g.timeout, g.etcdAuth)
	if err != nil {
		return nil, nil, err
	}
	return ctl.NewConfigStore(cli, g.collectKey, g.timeout).WithTopicsKey(g.topicsKey), func() { cli.Close() }, nil
}

func configCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Read, write, validate and edit the agents' collect configs in etcd"}
	var all bool

	get := &cobra.Command{
		Use:   "get (HOST | --all)",
		Short: "Print the collect config of the agent with IP HOST, or of every registered agent",
		Args:  hostArgs(&all, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			s, closeFn, err := g.store()
			if err != nil {
				return err
			}
			defer closeFn()
			var cfgs []ctl.CollectConfig
			if all {
				if cfgs, err = s.GetAll(cmd.Context()); err != nil {
					return err
				}
			} else {
				c, err := s.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if c.Value == nil {
					return fmt.Errorf("no collect config for %s: %s does not exist", c.IP, c.Key)
				}
				cfgs = []ctl.CollectConfig{c}
			}
			if asJSON && !all {
				return ctl.WriteJSON(cmd.OutOrStdout(), cfgs[0])
			}
			if asJSON {
				return ctl.WriteJSON(cmd.OutOrStdout(), cfgs)
			}
			return ctl.WriteConfigs(cmd.OutOrStdout(), cfgs, all)
		},
	}
	get.Flags().BoolVar(&all, "all", false, "every registered agent")
	addOutput(get, g)

	var rev int64
	set := &cobra.Command{
		Use:   "set (HOST | --all) FILE.json",
		Short: "Validate FILE.json like the agent does and write it, refusing if the key changed meanwhile",
		Args:  hostArgs(&all, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all && rev >= 0 {
				return errors.New("--revision is for one HOST: with --all each key is compared with the revision read before writing it")
			}
			file := args[len(args)-1]
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			tasks, err := ctl.Validate(data)
			if err != nil {
				return fmt.Errorf("%s: invalid collect config, nothing written: %w", file, err)
			}
			ctl.WarnOutsideDefaultRoots(cmd.ErrOrStderr(), tasks)
			s, closeFn, err := g.store()
			if err != nil {
				return err
			}
			defer closeFn()
			var rs []ctl.SetResult
			if all {
				rs, err = s.SetAll(cmd.Context(), data)
			} else {
				var r ctl.SetResult
				if r, err = s.Set(cmd.Context(), args[0], data, rev); err == nil {
					rs = []ctl.SetResult{r}
				}
			}
			if werr := ctl.WriteSetResults(cmd.OutOrStdout(), rs); werr != nil {
				return werr
			}
			return err
		},
	}
	set.Flags().BoolVar(&all, "all", false, "every registered agent")
	set.Flags().Int64Var(&rev, "revision", -1, "write only if the key's revision is this one (0: only if it does not exist); default: the revision read before writing")

	validate := &cobra.Command{
		Use:   "validate FILE.json",
		Short: "Check FILE.json with the agent's own parser",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			tasks, err := ctl.Validate(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok, %d task(s)\n", args[0], len(tasks))
			return nil
		},
	}

	edit := &cobra.Command{
		Use:   "edit HOST",
		Short: "Edit the collect config of the agent with IP HOST in $EDITOR; it is validated before it is written",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, closeFn, err := g.store()
			if err != nil {
				return err
			}
			defer closeFn()
			editor := cmpOr(os.Getenv("VISUAL"), os.Getenv("EDITOR"), "vi")
			r, err := s.Edit(cmd.Context(), args[0], ctl.Editor{
				Command: editor,
				Stdin:   cmd.InOrStdin(), Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(),
				Answers: bufio.NewReader(cmd.InOrStdin()), Prompts: cmd.ErrOrStderr(),
			})
			if err != nil {
				return err
			}
			return ctl.WriteSetResults(cmd.OutOrStdout(), []ctl.SetResult{r})
		},
	}
	cmd.AddCommand(get, set, validate, edit)
	return cmd
}

// hostArgs accepts HOST plus n more arguments, or only the n with --all.
func hostArgs(all *bool, n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if *all {
			if len(args) != n {
				return fmt.Errorf("with --all, %s takes %d argument(s), got %d", cmd.Name(), n, len(args))
			}
			return nil
		}
		if len(args) != n+1 {
			return fmt.Errorf("%s takes HOST (or --all)%s, got %d argument(s); usage: %s", cmd.Name(), strings.Repeat(" and FILE", n), len(args), cmd.UseLine())
		}
		return nil
	}
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func agentsCmd(g *globals) *cobra.Command {
	var withMetrics bool
	var window time.Duration
	cmd := &cobra.Command{
		Use:   "agents",
		Short: "List the live agents from their etcd registrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			cli, err := ctl.NewSecureEtcdClient(g.etcd, g.timeout, g.etcdAuth)
			if err != nil {
				return err
			}
			defer cli.Close()
			agents, err := ctl.ListAgents(cmd.Context(), cli, g.timeout)
			if err != nil {
				return err
			}
			if withMetrics {
				ctl.ScrapeAgents(cmd.Context(), agents, window, &http.Client{Timeout: g.timeout})
			}
			if asJSON {
				return ctl.WriteJSON(cmd.OutOrStdout(), agents)
			}
			return ctl.WriteAgents(cmd.OutOrStdout(), agents, withMetrics)
		},
	}
	cmd.Flags().BoolVar(&withMetrics, "metrics", false, "scrape each agent's /metrics: lines/s, lag bytes, send errors")
	cmd.Flags().DurationVar(&window, "window", 2*time.Second, "with --metrics: time between the two scrapes giving lines/s")
	addOutput(cmd, g)
	return cmd
}

func searchCmd(g *globals) *cobra.Command {
	var q ctl.Query
	var follow bool
	var fo ctl.FollowOptions
	cmd := &cobra.Command{
		Use:   "search [flags] [QUERY...]",
		Short: "Print the log lines matching QUERY, newest last (timestamp host path message)",
		Long: `Print the log lines matching QUERY, newest last, as
  timestamp host path message
QUERY is an Elasticsearch simple_query_string on the message (terms are
ANDed; "a phrase", -excluded, a|b, prefix*); a term field:value with a
dotted field name (http.response.status_code:500, log.level:error) matches
that field instead; no QUERY matches every line.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			q.Text = strings.Join(args, " ")
			es, err := ctl.NewSecureElasticsearchClient(g.es, g.timeout, g.esAuth)
			if err != nil {
				return err
			}
			s := ctl.NewSearcher(es, g.es, g.timeout)
			hits, err := s.Search(cmd.Context(), q)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := ctl.WriteHits(out, hits, asJSON); err != nil {
				return err
			}
			if !follow {
				return nil
			}
			return s.Follow(cmd.Context(), q, hits, fo, func(h ctl.Hit) error { return ctl.WriteHit(out, h, asJSON) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Topic, "topic", "", "only this topic")
	f.StringVar(&q.Host, "host", "", "only this host (name or IP)")
	f.DurationVar(&q.Since, "since", 15*time.Minute, "only lines with a @timestamp this recent (0: no limit)")
	f.IntVarP(&q.Limit, "limit", "n", 100, "print at most this many lines (the newest) before following")
	f.StringVar(&q.Index, "index", ctl.DefaultIndex, "index pattern; {topic} is the topic or *")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new lines until interrupted")
	f.DurationVar(&fo.Interval, "interval", time.Second, "with -f: time between polls")
	f.DurationVar(&fo.Lookback, "lookback", time.Minute, "with -f: lines searchable up to this long after their @timestamp are still printed")
	addOutput(cmd, g)
	return cmd
}

func lagCmd(g *globals) *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "lag",
		Short: "Show the consumer lag of the transfer's group per topic and partition",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			adm, err := ctl.NewSecureKafkaAdmin(g.brokers, g.timeout, g.kafkaAuth)
			if err != nil {
				return err
			}
			defer adm.Close()
			l, err := ctl.Lag(cmd.Context(), adm, g.brokers, group, g.timeout)
			if err != nil {
				return err
			}
			if asJSON {
				return ctl.WriteJSON(cmd.OutOrStdout(), l)
			}
			return ctl.WriteLag(cmd.OutOrStdout(), l)
		},
	}
	cmd.Flags().StringVar(&group, "group", ctl.DefaultGroup, "consumer group")
	addOutput(cmd, g)
	return cmd
}

func pipelineCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "pipeline", Short: "Try logtransfer's pipelines"}
	var pt ctl.PipelineTest
	test := &cobra.Command{
		Use:   "test [flags] --config FILE --pipeline NAME < LINES",
		Short: "Print the documents a pipeline makes of the lines on stdin, one JSON object per line",
		Long: `Run a pipeline of logtransfer's config file (its pipelines: key; or a list
of pipelines as kept in etcd) on each line of stdin, without Kafka or
Elasticsearch, and print each document as logtransfer would index it
(without its kafka field), one JSON object per line, keys sorted. Each line
is the message of a record logagent sends (with --records: a whole record,
as logagent's JSON). A line the pipeline fails on is printed flagged
(error.message, tags _pipeline_error) and its error goes to stderr; the
exit status is then 1. A dropped line prints nothing (--verbose: a line on
stderr).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := pt.Run(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			return err
		},
	}
	f := test.Flags()
	f.StringVar(&pt.Config, "config", "", "logtransfer's config file (its pipelines: key), or a YAML/JSON list of pipelines")
	f.StringVar(&pt.Pipeline, "pipeline", "", "name of the pipeline to run")
	f.BoolVar(&pt.Records, "records", false, "each line is a whole agent record (JSON), not a message")
	f.BoolVarP(&pt.Verbose, "verbose", "v", false, "also report dropped lines on stderr")
	_ = test.MarkFlagRequired("config")
	_ = test.MarkFlagRequired("pipeline")
	cmd.AddCommand(test)
	return cmd
}

func etcdAuthCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "etcd-auth",
		Short: "Create the etcd users and roles: one per agent host, reaching only its own keys, and one for operators",
		Long: `Create etcd users and roles so that a compromised host cannot rewrite the
collect config or the registration of another: each agent's user reads only
its own collect key and writes only its own registration key; the operator's
user (logctl) reads and writes the collect keys and reads the registrations.
Run as etcd's root (--etcd-user root, LOGCTL_ETCD_PASSWORD), or before
"etcd-auth enable". Each command can be run again: a role gets exactly its
permissions, an existing user keeps its password unless --rotate-password.
A generated password is printed once and stored nowhere.`,
	}
	var o ctl.IdentityOptions
	var ip, name string
	// run sets up one identity with an admin on the connection flags and
	// prints it (forAgent: with the agent's config lines).
	run := func(cmd *cobra.Command, forAgent bool, setUp func(context.Context, *ctl.EtcdAuthAdmin) (ctl.Identity, error)) error {
		cli, err := ctl.NewSecureEtcdClient(g.etcd, g.timeout, g.etcdAuth)
		if err != nil {
			return err
		}
		defer cli.Close()
		id, err := setUp(cmd.Context(), ctl.NewEtcdAuthAdmin(cli, g.collectKey, g.timeout).WithTopicsKey(g.topicsKey))
		if err != nil {
			return err
		}
		return ctl.WriteIdentity(cmd.OutOrStdout(), id, forAgent)
	}
	host := &cobra.Command{
		Use:   "host HOST",
		Short: "Create or update the user and role logagent-HOST of the agent on HOST (its IP, or its name with --ip)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, true, func(ctx context.Context, adm *ctl.EtcdAuthAdmin) (ctl.Identity, error) {
				return adm.Host(ctx, args[0], ip, name, o)
			})
		},
	}
	host.Flags().StringVar(&ip, "ip", "", "the host's IP (its registration key), when HOST is a name")
	host.Flags().StringVar(&name, "name", "", "the host's name, when HOST is an IP and --collect-key uses {hostname}")
	operator := &cobra.Command{
		Use:   "operator [USER]",
		Short: "Create or update an operator user for logctl (default logctl) with the role " + ctl.OperatorRole,
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			user := ""
			if len(args) == 1 {
				user = args[0]
			}
			return run(cmd, false, func(ctx context.Context, adm *ctl.EtcdAuthAdmin) (ctl.Identity, error) {
				return adm.Operator(ctx, user, o)
			})
		},
	}
	for _, c := range []*cobra.Command{host, operator} {
		c.Flags().BoolVar(&o.Cert, "cert", false, "no password: the user authenticates with a client certificate whose CN is its name (etcd --client-cert-auth)")
		c.Flags().BoolVar(&o.Rotate, "rotate-password", false, "give an existing user a new generated password")
	}
	enable := &cobra.Command{
		Use:   "enable",
		Short: "Turn etcd authentication on, creating the user root (with a generated password) if it does not exist",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, false, func(ctx context.Context, adm *ctl.EtcdAuthAdmin) (ctl.Identity, error) {
				return adm.Enable(ctx)
			})
		},
	}
	cmd.AddCommand(host, operator, enable)
	return cmd
}

func indicesCmd(g *globals) *cobra.Command {
	var template string
	var topics []string
	// open checks -o and builds the Indices of the flags.
	open := func() (x *ctl.Indices, asJSON bool, err error) {
		if asJSON, err = g.json(); err != nil {
			return nil, false, err
		}
		es, err := ctl.NewSecureElasticsearchClient(g.es, g.timeout, g.esAuth)
		if err != nil {
			return nil, false, err
		}
		x, err = ctl.NewIndices(es, g.es, g.timeout, template, topics)
		return x, asJSON, err
	}
	cmd := &cobra.Command{
		Use:   "indices",
		Short: "List logtransfer's dated indices: name, topic, date, docs, size",
		Long: `List logtransfer's dated indices, oldest first: those whose name the
index setting (--index, logtransfer's "index") makes for a topic and a date,
and whose documents have kafka.topic. Hidden indices, closed ones and other
tools' indices with look-alike names are left out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			x, asJSON, err := open()
			if err != nil {
				return err
			}
			infos, err := x.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return ctl.WriteJSON(cmd.OutOrStdout(), infos)
			}
			return ctl.WriteIndices(cmd.OutOrStdout(), infos)
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&template, "index", ctl.DefaultIndexTemplate, "logtransfer's index setting: {topic} and a date such as {yyyy.MM.dd}")
	pf.StringSliceVar(&topics, "topic", nil, "only the indices of these topics (default: all)")
	addOutput(cmd, g)

	var olderThan esindex.Age
	var dryRun bool
	prune := &cobra.Command{
		Use:   "prune --older-than AGE [--dry-run]",
		Short: "Delete logtransfer's indices whose every document is older than AGE (30d, 36h)",
		Long: `Delete logtransfer's dated indices (those "logctl indices" lists) whose
every document is older than --older-than: the daily index of 1 March goes
with 30d from 1 April 00:00 UTC. The same rule as logtransfer's
retention.max_age. --dry-run prints what would be deleted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			x, asJSON, err := open()
			if err != nil {
				return err
			}
			ps, err := x.Prune(cmd.Context(), olderThan, time.Now(), dryRun)
			if ps == nil && err != nil {
				return err
			}
			var werr error
			if asJSON {
				werr = ctl.WriteJSON(cmd.OutOrStdout(), ps)
			} else {
				werr = ctl.WritePruned(cmd.OutOrStdout(), ps, dryRun)
			}
			if err != nil {
				return err
			}
			return werr
		},
	}
	prune.Flags().Var(&olderThan, "older-than", "delete the indices whose every document is older than this: whole days (30d) or a duration (36h), at least 1h")
	prune.Flags().BoolVar(&dryRun, "dry-run", false, "only print what would be deleted")
	_ = prune.MarkFlagRequired("older-than")
	addOutput(prune, g)
	cmd.AddCommand(prune)
	return cmd
}
