package collect

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseTasks checks that ParseTasks never panics, and that the tasks it
// accepts survive a round trip through encoding/json unchanged.
func FuzzParseTasks(f *testing.F) {
	sample, err := os.ReadFile(filepath.Join("testdata", "collect_config.json"))
	require.NoError(f, err)
	for _, seed := range []string{
		string(sample),
		`[]`,
		`null`,
		`{}`,
		`[{"path":"/var/log/nginx/access.log","topic":"web_log"},{"path":"/var/log/app/*.log","topic":"app_log"}]`,
		`[{"path":"/a.log","topic":"t","exclude":["*.gz"],"start_position":"beginning","fields":{"k":"v"},"max_line_bytes":10,"format":"raw"}]`,
		`[{"path":"/a.log","topic":"t","multiline":{"pattern":"^[[:space:]]","match":"after","max_lines":3,"timeout":"1.5s"}}]`,
		`[{"path":"/a.log","topic":"t","multiline":{"pattern":"\\\\$","negate":true,"match":"before","timeout":"1ns"}}]`,
		`[{"path":"/a.log","topic":"t","include_lines":["^ERR","(?i)warn"],"exclude_lines":["healthz$"]}]`,
		`[{"path":"/a.log","topic":"t","include_lines":[],"exclude_lines":["\\d{3} \\d+$"],"multiline":{"pattern":"^\\s","match":"after"}}]`,
		`[{"path":"/a.log","topic":"t","include_lines":["a(b"],"exclude_lines":[""]}]`,
		`[{"path":"/a.log","topic":"t","exclude_lines":"x","include_lines":[1]}]`,
		`[{"path":"/a.log","topic":"t","container_format":"cri","multiline":{"pattern":"^\\s","match":"after"}}]`,
		`[{"path":"/a.log","topic":"t","container_format":"docker"},{"path":"/b.log","topic":"t","container_format":"podman"}]`,
		`[{"path":"/a.log","topic":"t"},{"path":"/a.log","topic":"t"}]`,
		`[{"path":"a.log","topic":"a b"}]`,
		`[{"path":"/[","topic":"t","multiline":{"pattern":"(","match":"x","timeout":5}}]`,
		`[{"path":"/a.log","topic":"t","unknown":1}]`,
		`[{"PATH":"/a.log","Topic":"t"}]`,
		`[{"path":"/a\u00e9\ufffd.log","topic":"t","fields":{"<k>":"\u2028"}}]`,
		`[1, "x", null]`,
		`[{"path":"/a.log","topic":"t"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tasks, err := ParseTasks(data)
		if err != nil {
			require.Nil(t, tasks)
			return
		}
		again, err := ValidateTasks(tasks)
		require.NoError(t, err, "validated tasks must validate again")
		require.Len(t, again, len(tasks))

		out, err := json.Marshal(tasks)
		require.NoError(t, err)
		parsed, err := ParseTasks(out)
		require.NoError(t, err, "round trip of %s", out)
		require.Len(t, parsed, len(tasks))
		for i := range tasks {
			require.True(t, tasks[i].Equal(parsed[i]), "task %d changed in a round trip:\n%+v\n%+v", i, tasks[i], parsed[i])
			require.True(t, tasks[i].Equal(again[i]))
			if tasks[i].Multiline != nil {
				require.NotNil(t, parsed[i].Multiline.Regexp())
			}
			include, exclude := parsed[i].LineFilters()
			require.Len(t, include, len(tasks[i].IncludeLines))
			require.Len(t, exclude, len(tasks[i].ExcludeLines))
		}
	})
}
