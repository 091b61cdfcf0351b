package pipeline

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCRI(t *testing.T) {
	runPresetCases(t, "cri: {}", []presetCase{
		{name: "containerd, full",
			line: `2026-12-07T10:00:00.123456789Z stdout F 10.244.0.1 - - [07/Dec/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.31"`,
			want: `{"@timestamp":"2026-12-07T10:00:00.123456789Z","stream":"stdout","message":"10.244.0.1 - - [07/Dec/2026:10:00:00 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.31\""}`},
		{name: "CRI-O, a local offset, stderr",
			line: `2026-12-07T11:00:00.5+01:00 stderr F level=error msg="connection refused"`,
			want: `{"@timestamp":"2026-12-07T10:00:00.5Z","stream":"stderr","message":"level=error msg=\"connection refused\""}`},
		{name: "partial", line: `2026-12-07T10:00:00.000000001Z stdout P {"a":"first 16 KiB of a long`,
			want: `{"@timestamp":"2026-12-07T10:00:00.000000001Z","stream":"stdout","message":"{\"a\":\"first 16 KiB of a long","log":{"flags":["partial"]}}`},
		{name: "partial, flags kept",
			in:   `{"message":"2026-12-07T10:00:00Z stdout P part","log":{"flags":["multiline"],"offset":3}}`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","stream":"stdout","message":"part","log":{"flags":["multiline","partial"],"offset":3}}`},
		{name: "the last part", line: `2026-12-07T10:00:00Z stdout F  end of it"}`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","stream":"stdout","message":" end of it\"}"}`},
		{name: "tags after the P/F", line: `2026-12-07T10:00:00Z stdout F:x y`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","stream":"stdout","message":"y"}`},
		{name: "an empty line", line: `2026-12-07T10:00:00Z stdout F `,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","stream":"stdout","message":""}`},
		{name: "an empty line without its space", line: `2026-12-07T10:00:00Z stdout F`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","stream":"stdout","message":""}`},
		{name: "another field", processor: "cri: {field: raw}",
			in:   `{"raw":"2026-12-07T10:00:00Z stdout F x","message":"old"}`,
			want: `{"raw":"2026-12-07T10:00:00Z stdout F x","@timestamp":"2026-12-07T10:00:00Z","stream":"stdout","message":"x"}`},

		{name: "not CRI", line: "hello", wantErr: "expected <time> <stdout|stderr> <P|F> <line>"},
		{name: "docker's JSON", line: `{"log":"x\n","stream":"stdout","time":"2026-12-07T10:00:00Z"}`,
			wantErr: "expected <time> <stdout|stderr> <P|F> <line>"},
		{name: "bad time", line: "2026-12-07 10:00:00 stdout F x", wantErr: `time "2026-12-07": not RFC 3339`},
		{name: "bad stream", line: "2026-12-07T10:00:00Z stdin F x", wantErr: "stream: expected stdout or stderr"},
		{name: "bad tag", line: "2026-12-07T10:00:00Z stdout X x", wantErr: "tag: expected P or F"},
		{name: "no tag", line: "2026-12-07T10:00:00Z stdout", wantErr: "expected <time> <stdout|stderr> <P|F> <line>"},
		{name: "log.flags not a list", in: `{"message":"2026-12-07T10:00:00Z stdout P x","log":"x"}`,
			wantErr: "cannot set log.flags: log is a string, not an object"},
	})
}

func TestCRIConfig(t *testing.T) {
	presetConfigErrors(t, map[string]string{"cri: {join: true}": "field join not found"})
}

// A CRI record of a pod running nginx goes through cri, kubernetes and
// nginx, as the DaemonSet example's pipeline does.
func TestCRIPipeline(t *testing.T) {
	p, err := New(parseConfigs(t, `[{name: k8s, topics: [k8s_log], processors: [{cri: {}}, {kubernetes: {}}, {nginx: {if: 'kubernetes.container.name == "nginx"'}}]}]`)[0])
	require.NoError(t, err)
	e := event(t, `{"@timestamp":"2026-12-07T10:00:01Z","message":"2026-12-07T10:00:00.5Z stdout F 10.244.0.1 - - [07/Dec/2026:10:00:00 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.31\"",
		"log":{"file":{"path":"/var/log/containers/web-7d4b9c8f5-x2x9q_shop_nginx-`+strings.Repeat("ab", 32)+`.log"},"offset":0}}`)
	require.NoError(t, p.Run(e))
	require.JSONEq(t, `{"@timestamp":"2026-12-07T10:00:00Z","stream":"stdout",
		"message":"10.244.0.1 - - [07/Dec/2026:10:00:00 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.31\"",
		"log":{"file":{"path":"/var/log/containers/web-7d4b9c8f5-x2x9q_shop_nginx-`+strings.Repeat("ab", 32)+`.log"},"offset":0},
		"kubernetes":{"pod":{"name":"web-7d4b9c8f5-x2x9q"},"namespace":"shop","container":{"name":"nginx"}},"container":{"id":"`+strings.Repeat("ab", 32)+`"},
		"source":{"address":"10.244.0.1","ip":"10.244.0.1"},"user_agent":{"original":"kube-probe/1.31"},"url":{"original":"/healthz"},
		"http":{"request":{"method":"GET"},"version":"1.1","response":{"status_code":200,"body":{"bytes":2}}}}`, jsonOf(t, e))
}

func FuzzCRI(f *testing.F) {
	for _, s := range []string{
		"2026-12-07T10:00:00.123456789Z stdout F hello",
		"2026-12-07T11:00:00.5+01:00 stderr P part",
		"2026-12-07T10:00:00Z stdout F:x ",
		"2026-12-07T10:00:00Z stdout F",
		"",
	} {
		f.Add(s)
	}
	proc := newPreset(f, "cri", "{}")
	f.Fuzz(func(t *testing.T, line string) {
		fuzzProcess(t, proc, line)
		if l, err := parseCRI(line); err == nil {
			require.True(t, strings.HasSuffix(line, l.message))
			require.Contains(t, []string{"stdout", "stderr"}, l.stream)
		}
	})
}

func BenchmarkCRI(b *testing.B) {
	benchPreset(b, newPreset(b, "cri", "{}"), "message",
		`2026-12-07T10:00:00.123456789Z stdout F 10.244.0.1 - - [07/Dec/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.31"`)
}
