package collect

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// policyTree makes, in a temp dir d, d/log (the allowed root) with files,
// d/secret/shadow, and links from inside d/log to d/secret: a directory link
// and a file link. It returns d with its own symlinks resolved.
func policyTree(t *testing.T) string {
	d, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	for _, dir := range []string{"log/app", "log/nested/deep", "secret", "logs-evil"} {
		require.NoError(t, os.MkdirAll(filepath.Join(d, dir), 0o755))
	}
	for _, f := range []string{"log/app/a.log", "log/nested/deep/x.log", "secret/shadow", "logs-evil/x.log"} {
		require.NoError(t, os.WriteFile(filepath.Join(d, f), []byte("x\n"), 0o644))
	}
	require.NoError(t, os.Symlink(filepath.Join(d, "secret"), filepath.Join(d, "log", "linkdir")))
	require.NoError(t, os.Symlink(filepath.Join(d, "secret", "shadow"), filepath.Join(d, "log", "linkfile.log")))
	require.NoError(t, os.Symlink(filepath.Join(d, "log", "app", "a.log"), filepath.Join(d, "log", "inside.log")))
	require.NoError(t, os.Symlink(filepath.Join(d, "log"), filepath.Join(d, "loglink")))
	return d
}

func TestPolicyCheckTasks(t *testing.T) {
	d := policyTree(t)
	p := func(rel string) string { return filepath.Join(d, rel) }
	rule := `files.allowed_paths ["` + p("log/**") + `"]`
	tests := []struct {
		name    string
		path    string
		topic   string
		wantErr string // "": allowed
	}{
		{name: "file", path: p("log/app/a.log")},
		{name: "glob", path: p("log/app/*.log")},
		{name: "glob of directories", path: p("log/*/deep/*.log")},
		{name: "deep file", path: p("log/nested/deep/x.log")},
		{name: "not created yet", path: p("log/later/x.log")},
		{name: "symlink staying inside", path: p("log/inside.log")},
		{name: "absolute outside", path: "/etc/shadow", wantErr: `task 0 (path "/etc/shadow"): path is outside ` + rule},
		{name: "sibling with the same prefix", path: p("logs-evil/x.log"), wantErr: "path is outside " + rule},
		{name: "glob above the root", path: p("*/shadow"), wantErr: "path is outside " + rule},
		{name: "dot-dot", path: d + "/log/../secret/shadow", wantErr: `path: must not contain ".." under ` + rule},
		{name: "dot-dot below a glob", path: d + "/log/*/../../secret/shadow", wantErr: `must not contain ".."`},
		{name: "symlinked directory", path: p("log/linkdir/shadow"), wantErr: `path resolves to "` + p("secret/shadow") + `", outside ` + rule},
		{name: "glob in a symlinked directory", path: p("log/linkdir/*"), wantErr: `path resolves to "` + p("secret/*") + `", outside ` + rule},
		{name: "symlinked file", path: p("log/linkfile.log"), wantErr: `path resolves to "` + p("secret/shadow") + `", outside ` + rule},
		{name: "topic outside", path: p("log/app/a.log"), topic: "secrets", wantErr: `topic "secrets" is outside kafka.allowed_topics ["web_*" "app_log"]`},
		{name: "topic glob", path: p("log/app/a.log"), topic: "web_log"},
	}
	pol, err := NewPolicy([]string{p("log/**")}, []string{"web_*", "app_log"})
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := tt.topic
			if topic == "" {
				topic = "app_log"
			}
			err := pol.CheckTasks([]Task{{Path: tt.path, Topic: topic}})
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// Every task outside is named, each with its index; the config is refused
// as a whole by the caller.
func TestPolicyNamesEveryTask(t *testing.T) {
	pol, err := NewPolicy(DefaultAllowedPaths, nil)
	require.NoError(t, err)
	err = pol.CheckTasks([]Task{
		{Path: "/var/log/nginx/access.log", Topic: "web"},
		{Path: "/root/.ssh/id_ed25519", Topic: "web"},
		{Path: "/etc/kubernetes/pki/ca.key", Topic: "web"},
	})
	require.EqualError(t, err, `task 1 (path "/root/.ssh/id_ed25519"): path is outside files.allowed_paths ["/var/log/**"]`+"\n"+
		`task 2 (path "/etc/kubernetes/pki/ca.key"): path is outside files.allowed_paths ["/var/log/**"]`)
}

// An allowed root that is a symlink allows the files where it leads, by
// either name.
func TestPolicySymlinkedRoot(t *testing.T) {
	d := policyTree(t)
	pol, err := NewPolicy([]string{filepath.Join(d, "loglink", "**")}, nil)
	require.NoError(t, err)
	require.True(t, pol.AllowsFile(filepath.Join(d, "log", "app", "a.log")))
	require.NoError(t, pol.CheckTasks([]Task{
		{Path: filepath.Join(d, "loglink", "app", "*.log"), Topic: "t"},
		{Path: filepath.Join(d, "log", "nested", "deep", "x.log"), Topic: "t"},
	}))
	require.False(t, pol.AllowsFile(filepath.Join(d, "secret", "shadow")))
}

func TestPolicyAllowsFile(t *testing.T) {
	pol, err := NewPolicy([]string{"/var/log/**", "/srv/*/logs/*.log"}, nil)
	require.NoError(t, err)
	for _, tt := range []struct {
		path string
		want bool
	}{
		{"/var/log/syslog", true},
		{"/var/log/pods/ns_pod_uid/c/0.log", true},
		{"/var/logs/x", false},
		{"/srv/shop/logs/app.log", true},
		{"/srv/shop/logs/old/app.log", false},
		{"/srv/shop/secrets.txt", false},
		{"/etc/shadow", false},
	} {
		require.Equal(t, tt.want, pol.AllowsFile(tt.path), tt.path)
	}
	require.True(t, pol.AllowsTopic("anything"), "no kafka.allowed_topics: any topic")
}

func TestNewPolicyErrors(t *testing.T) {
	_, err := NewPolicy(nil, nil)
	require.EqualError(t, err, "files.allowed_paths: must not be empty")
	_, err = NewPolicy([]string{"var/log", "/var/log/{a"}, []string{"[x"})
	require.EqualError(t, err, `files.allowed_paths[0] "var/log": must be absolute`+"\n"+
		`files.allowed_paths[1] "/var/log/{a": invalid glob`+"\n"+`kafka.allowed_topics[0] "[x": invalid glob`)
}
