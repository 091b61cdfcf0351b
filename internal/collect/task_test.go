package collect

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/config"
)

func TestParseTasks(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    []Task
		wantErr string
	}{
		{
			name: "classic layout gets defaults",
			json: `[{"path":"/var/log/nginx/access.log","topic":"web_log"},{"path":"/var/log/app/*.log","topic":"app_log"}]`,
			want: []Task{
				{Path: "/var/log/nginx/access.log", Topic: "web_log", StartPosition: "end", MaxLineBytes: 1 << 20, Format: "json"},
				{Path: "/var/log/app/*.log", Topic: "app_log", StartPosition: "end", MaxLineBytes: 1 << 20, Format: "json"},
			},
		},
		{
			name: "every field",
			json: `[{"path":"/var/log/app/*.log","topic":"app.log-1_x","exclude":["*.gz","/var/log/app/debug-*"],
				"start_position":"beginning","fields":{"env":"prod"},"max_line_bytes":4096,"format":"raw",
				"multiline":{"pattern":"^\\d{4}-","negate":true,"match":"after","max_lines":10,"timeout":"2s"},
				"include_lines":["^ERR","^WARN"],"exclude_lines":["healthz"],"container_format":"cri"}]`,
			want: []Task{{
				Path: "/var/log/app/*.log", Topic: "app.log-1_x", Exclude: []string{"*.gz", "/var/log/app/debug-*"},
				StartPosition: "beginning", Fields: map[string]string{"env": "prod"}, MaxLineBytes: 4096, Format: "raw",
				Multiline:    &Multiline{Pattern: `^\d{4}-`, Negate: true, Match: "after", MaxLines: 10, Timeout: config.Duration(2 * time.Second)},
				IncludeLines: []string{"^ERR", "^WARN"}, ExcludeLines: []string{"healthz"}, ContainerFormat: "cri",
			}},
		},
		{
			name: "container_format docker",
			json: `[{"path":"/var/lib/docker/containers/*/*-json.log","topic":"t","container_format":"docker"}]`,
			want: []Task{{
				Path: "/var/lib/docker/containers/*/*-json.log", Topic: "t", StartPosition: "end", MaxLineBytes: 1 << 20, Format: "json",
				ContainerFormat: "docker",
			}},
		},
		{
			name: "exclude_lines alone",
			json: `[{"path":"/a.log","topic":"t","exclude_lines":["^DBG","(?i)debug"]}]`,
			want: []Task{{
				Path: "/a.log", Topic: "t", StartPosition: "end", MaxLineBytes: 1 << 20, Format: "json",
				ExcludeLines: []string{"^DBG", "(?i)debug"},
			}},
		},
		{
			name: "empty filter lists are no filter",
			json: `[{"path":"/a.log","topic":"t","include_lines":[],"exclude_lines":null}]`,
			want: []Task{{Path: "/a.log", Topic: "t", StartPosition: "end", MaxLineBytes: 1 << 20, Format: "json"}},
		},
		{
			name: "multiline defaults",
			json: `[{"path":"/a.log","topic":"t","multiline":{"pattern":"^\\s","match":"after"}}]`,
			want: []Task{{
				Path: "/a.log", Topic: "t", StartPosition: "end", MaxLineBytes: 1 << 20, Format: "json",
				Multiline: &Multiline{Pattern: `^\s`, Match: "after", MaxLines: 500, Timeout: config.Duration(5 * time.Second)},
			}},
		},
		{name: "empty array", json: ` [ ] `, want: []Task{}},
		{name: "null", json: `null`, wantErr: "tasks must be a JSON array, got null"},
		{name: "object", json: `{"path":"/a.log","topic":"t"}`, wantErr: "tasks must be a JSON array, got object"},
		{name: "empty input", json: ``, wantErr: "invalid JSON at line 1, column 1 (offset 0): unexpected end of JSON input"},
		{name: "syntax error has line and column", json: "[\n {\"path\": \"/a.log\",\n  \"topic\" \"t\"}]", wantErr: "invalid JSON at line 3, column 11 (offset 33): invalid character '\"' after object key"},
		{name: "trailing data", json: `[] []`, wantErr: "invalid JSON at line 1, column 4"},
		{name: "element not an object", json: `[1]`, wantErr: "task 0: cannot use number as a task object"},
		{name: "unknown field", json: `[{"path":"/a.log","topic":"t","topics":"x"}]`, wantErr: `task 0 (path "/a.log"): json: unknown field "topics"`},
		{name: "unknown multiline field", json: `[{"path":"/a.log","topic":"t","multiline":{"pattern":"x","match":"after","mach":"x"}}]`, wantErr: `task 0 (path "/a.log"): json: unknown field "mach"`},
		{name: "wrong type", json: `[{"path":"/a.log","topic":5}]`, wantErr: `task 0 (path "/a.log"): topic: cannot use number as string`},
		{name: "duration as number", json: `[{"path":"/a.log","topic":"t","multiline":{"pattern":"x","match":"after","timeout":5}}]`, wantErr: `task 0 (path "/a.log"): multiline.timeout: cannot use number 5 as a duration string such as "10s"`},
		{name: "bad duration string", json: `[{"path":"/a.log","topic":"t","multiline":{"pattern":"x","match":"after","timeout":"5x"}}]`, wantErr: `multiline.timeout: cannot use string "5x" as a duration string such as "10s"`},
		{name: "null element", json: `[null]`, wantErr: "task 0: path: must not be empty"},
		{name: "empty path", json: `[{"topic":"t"}]`, wantErr: "task 0: path: must not be empty"},
		{name: "relative path", json: `[{"path":"var/log/x.log","topic":"t"}]`, wantErr: `task 0 (path "var/log/x.log"): path: must be absolute`},
		{name: "bad glob", json: `[{"path":"/var/log/[.log","topic":"t"}]`, wantErr: `task 0 (path "/var/log/[.log"): path: invalid glob: syntax error in pattern`},
		{name: "bad glob after a star", json: `[{"path":"/var/*/x[.log","topic":"t"}]`, wantErr: "path: invalid glob"},
		{name: "duplicate path", json: `[{"path":"/a.log","topic":"t"},{"path":"/b.log","topic":"t"},{"path":"//a.log","topic":"u"}]`, wantErr: `task 2 (path "//a.log"): path: duplicate of task 0`},
		{name: "empty topic", json: `[{"path":"/a.log"}]`, wantErr: `task 0 (path "/a.log"): topic: must not be empty`},
		{name: "topic with space", json: `[{"path":"/a.log","topic":"t"},{"path":"/b.log","topic":"t"},{"path":"/var/log/x.log","topic":"a b"}]`, wantErr: `task 2 (path "/var/log/x.log"): topic "a b": must match [a-zA-Z0-9._-]{1,249}`},
		{name: "topic too long", json: `[{"path":"/a.log","topic":"` + strings.Repeat("a", 250) + `"}]`, wantErr: "must match [a-zA-Z0-9._-]{1,249}"},
		{name: "topic dot", json: `[{"path":"/a.log","topic":"."}]`, wantErr: `topic ".": must not be "." or ".."`},
		{name: "topic dot dot", json: `[{"path":"/a.log","topic":".."}]`, wantErr: `topic "..": must not be "." or ".."`},
		{name: "bad exclude", json: `[{"path":"/a.log","topic":"t","exclude":["*.gz","[x"]}]`, wantErr: `exclude[1] "[x": invalid glob`},
		{name: "empty exclude", json: `[{"path":"/a.log","topic":"t","exclude":[""]}]`, wantErr: `exclude[0]: must not be empty`},
		{name: "bad start position", json: `[{"path":"/a.log","topic":"t","start_position":"middle"}]`, wantErr: `start_position "middle": must be "end" or "beginning"`},
		{name: "bad format", json: `[{"path":"/a.log","topic":"t","format":"xml"}]`, wantErr: `format "xml": must be "json" or "raw"`},
		{name: "negative max_line_bytes", json: `[{"path":"/a.log","topic":"t","max_line_bytes":-1}]`, wantErr: "max_line_bytes -1: must be between 1 and 67108864"},
		{name: "huge max_line_bytes", json: `[{"path":"/a.log","topic":"t","max_line_bytes":67108865}]`, wantErr: "max_line_bytes 67108865: must be between 1 and 67108864"},
		{name: "empty field key", json: `[{"path":"/a.log","topic":"t","fields":{"":"x"}}]`, wantErr: "fields: key must not be empty"},
		{name: "empty multiline pattern", json: `[{"path":"/a.log","topic":"t","multiline":{"match":"after"}}]`, wantErr: "multiline.pattern: must not be empty"},
		{name: "bad multiline pattern", json: `[{"path":"/a.log","topic":"t","multiline":{"pattern":"(","match":"after"}}]`, wantErr: "multiline.pattern \"(\": error parsing regexp: missing closing ): `(`"},
		{name: "bad container_format", json: `[{"path":"/a.log","topic":"t"},{"path":"/b.log","topic":"t","container_format":"CRI"}]`, wantErr: `task 1 (path "/b.log"): container_format "CRI": must be "cri" or "docker", or empty for none`},
		{name: "container_format not a string", json: `[{"path":"/a.log","topic":"t","container_format":true}]`, wantErr: `task 0 (path "/a.log"): container_format: cannot use bool as string`},
		{name: "bad multiline match", json: `[{"path":"/a.log","topic":"t","multiline":{"pattern":"x","match":"later"}}]`, wantErr: `multiline.match "later": must be "after" or "before"`},
		{name: "missing multiline match", json: `[{"path":"/a.log","topic":"t","multiline":{"pattern":"x"}}]`, wantErr: `multiline.match "": must be "after" or "before"`},
		{name: "negative max_lines", json: `[{"path":"/a.log","topic":"t","multiline":{"pattern":"x","match":"before","max_lines":-1}}]`, wantErr: "multiline.max_lines -1: must be >= 0"},
		{name: "bad include_lines regexp", json: `[{"path":"/a.log","topic":"t"},{"path":"/b.log","topic":"t","include_lines":["^ok","a(b"]}]`, wantErr: "task 1 (path \"/b.log\"): include_lines[1] \"a(b\": error parsing regexp: missing closing ): `a(b`"},
		{name: "bad exclude_lines regexp", json: `[{"path":"/a.log","topic":"t","exclude_lines":["x**"]}]`, wantErr: "task 0 (path \"/a.log\"): exclude_lines[0] \"x**\": error parsing regexp: invalid nested repetition operator: `**`"},
		{name: "Perl lookahead is not RE2", json: `[{"path":"/a.log","topic":"t","exclude_lines":["^(?!ERR)"]}]`, wantErr: `exclude_lines[0] "^(?!ERR)": error parsing regexp: invalid or unsupported Perl syntax`},
		{name: "empty include_lines regexp", json: `[{"path":"/a.log","topic":"t","include_lines":["x",""]}]`, wantErr: `task 0 (path "/a.log"): include_lines[1]: must not be empty`},
		{name: "null exclude_lines regexp", json: `[{"path":"/a.log","topic":"t","exclude_lines":["x",null]}]`, wantErr: `exclude_lines[1]: must not be empty`},
		{name: "empty exclude_lines regexp", json: `[{"path":"/a.log","topic":"t","exclude_lines":[""]}]`, wantErr: `exclude_lines[0]: must not be empty`},
		{name: "include_lines not a list", json: `[{"path":"/a.log","topic":"t","include_lines":"^ERR"}]`, wantErr: `task 0 (path "/a.log"): include_lines: cannot use string as []string`},
		{name: "negative timeout", json: `[{"path":"/a.log","topic":"t","multiline":{"pattern":"x","match":"before","timeout":"-1s"}}]`, wantErr: "multiline.timeout -1s: must be >= 0"},
		{
			name:    "every bad task is reported",
			json:    `[{"path":"/a.log","topic":"t"},{"path":"b.log","topic":"t"},{"path":"/c.log","topic":""}]`,
			wantErr: "task 1 (path \"b.log\"): path: must be absolute\ntask 2 (path \"/c.log\"): topic: must not be empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTasks([]byte(tt.json))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Len(t, got, len(tt.want))
			for i := range tt.want {
				require.True(t, tt.want[i].Equal(got[i]), "task %d:\nwant %+v\ngot  %+v", i, tt.want[i], got[i])
				if got[i].Multiline != nil {
					require.NotNil(t, got[i].Multiline.Regexp())
					require.Equal(t, got[i].Multiline.Pattern, got[i].Multiline.Regexp().String())
				}
				include, exclude := got[i].LineFilters()
				require.Equal(t, tt.want[i].IncludeLines, regexpStrings(include), "compiled include_lines")
				require.Equal(t, tt.want[i].ExcludeLines, regexpStrings(exclude), "compiled exclude_lines")
			}
		})
	}
}

// regexpStrings returns the patterns of res, nil for none.
func regexpStrings(res []*regexp.Regexp) []string {
	var out []string
	for _, re := range res {
		out = append(out, re.String())
	}
	return out
}

func TestParseTasksSample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "collect_config.json"))
	require.NoError(t, err)
	tasks, err := ParseTasks(data)
	require.NoError(t, err)
	require.NotEmpty(t, tasks)
}

func TestValidateTasksDoesNotModifyInput(t *testing.T) {
	in := []Task{{
		Path: "/a.log", Topic: "t", Exclude: []string{"*.gz"}, Fields: map[string]string{"k": "v"},
		Multiline:    &Multiline{Pattern: "^x", Match: "after"},
		IncludeLines: []string{"^E"}, ExcludeLines: []string{"x"},
	}}
	got, err := ValidateTasks(in)
	require.NoError(t, err)
	require.Equal(t, "json", got[0].Format)
	require.Equal(t, 500, got[0].Multiline.MaxLines)
	require.NotNil(t, got[0].Multiline.Regexp())
	include, exclude := got[0].LineFilters()
	require.Len(t, include, 1)
	require.Len(t, exclude, 1)

	got[0].Exclude[0] = "changed"
	got[0].Fields["k"] = "changed"
	got[0].IncludeLines[0] = "changed"
	got[0].ExcludeLines[0] = "changed"
	require.Equal(t, []Task{{
		Path: "/a.log", Topic: "t", Exclude: []string{"*.gz"}, Fields: map[string]string{"k": "v"},
		Multiline:    &Multiline{Pattern: "^x", Match: "after"},
		IncludeLines: []string{"^E"}, ExcludeLines: []string{"x"},
	}}, in)
	include, _ = in[0].LineFilters()
	require.Nil(t, include, "the input is not compiled")
}

func TestValidateTasksEmpty(t *testing.T) {
	got, err := ValidateTasks(nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestTaskEqual(t *testing.T) {
	base := func() Task {
		return Task{
			Path: "/a.log", Topic: "t", Exclude: []string{"*.gz"}, Fields: map[string]string{"k": "v"},
			Multiline:    &Multiline{Pattern: "^x", Match: "after"},
			IncludeLines: []string{"^E", "^W"}, ExcludeLines: []string{"healthz"},
		}
	}
	tests := []struct {
		name   string
		change func(*Task)
		want   bool
	}{
		{name: "same", change: func(*Task) {}, want: true},
		{name: "explicit defaults", change: func(t *Task) {
			t.StartPosition, t.Format, t.MaxLineBytes = "end", "json", 1<<20
			t.Multiline.MaxLines, t.Multiline.Timeout = 500, config.Duration(5*time.Second)
		}, want: true},
		{name: "path", change: func(t *Task) { t.Path = "/b.log" }},
		{name: "topic", change: func(t *Task) { t.Topic = "u" }},
		{name: "exclude", change: func(t *Task) { t.Exclude = append(t.Exclude, "*.1") }},
		{name: "start position", change: func(t *Task) { t.StartPosition = "beginning" }},
		{name: "fields", change: func(t *Task) { t.Fields["k"] = "w" }},
		{name: "max line bytes", change: func(t *Task) { t.MaxLineBytes = 10 }},
		{name: "format", change: func(t *Task) { t.Format = "raw" }},
		{name: "no multiline", change: func(t *Task) { t.Multiline = nil }},
		{name: "multiline pattern", change: func(t *Task) { t.Multiline.Pattern = "^y" }},
		{name: "multiline negate", change: func(t *Task) { t.Multiline.Negate = true }},
		{name: "multiline match", change: func(t *Task) { t.Multiline.Match = "before" }},
		{name: "multiline max lines", change: func(t *Task) { t.Multiline.MaxLines = 3 }},
		{name: "multiline timeout", change: func(t *Task) { t.Multiline.Timeout = config.Duration(time.Second) }},
		{name: "include_lines added", change: func(t *Task) { t.IncludeLines = append(t.IncludeLines, "^I") }},
		{name: "include_lines changed", change: func(t *Task) { t.IncludeLines[1] = "^WARN" }},
		{name: "include_lines reordered", change: func(t *Task) { t.IncludeLines = []string{"^W", "^E"} }},
		{name: "no include_lines", change: func(t *Task) { t.IncludeLines = nil }},
		{name: "container_format set", change: func(t *Task) { t.ContainerFormat = "cri" }},
		{name: "exclude_lines changed", change: func(t *Task) { t.ExcludeLines = []string{"metrics"} }},
		{name: "no exclude_lines", change: func(t *Task) { t.ExcludeLines = nil }},
		{name: "include and exclude swapped", change: func(t *Task) { t.IncludeLines, t.ExcludeLines = t.ExcludeLines, t.IncludeLines }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := base(), base()
			tt.change(&b)
			require.Equal(t, tt.want, a.Equal(b))
			require.Equal(t, tt.want, b.Equal(a))
		})
	}

	t.Run("nil and empty collections", func(t *testing.T) {
		a := Task{Path: "/a.log", Topic: "t"}
		b := Task{Path: "/a.log", Topic: "t", Exclude: []string{}, Fields: map[string]string{}, IncludeLines: []string{}, ExcludeLines: []string{}}
		require.True(t, a.Equal(b))
	})
	t.Run("validated equals its JSON round trip", func(t *testing.T) {
		tasks, err := ValidateTasks([]Task{base()})
		require.NoError(t, err)
		data, err := json.Marshal(tasks)
		require.NoError(t, err)
		again, err := ParseTasks(data)
		require.NoError(t, err)
		require.True(t, tasks[0].Equal(again[0]))
		require.True(t, base().Equal(again[0]))
	})
}
