package main

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// logctl etcd-auth host / operator / enable against a real etcd: the
// passwords they print work, the operator writes a host's collect config
// (warned when it names a path outside the agents' default allowed roots)
// and the host's user cannot read another host's.
func TestEtcdAuthCommands(t *testing.T) {
	e := testenv.StartEtcd(t)
	t.Setenv("LOGCTL_ETCD", e.Endpoints()[0])
	password := regexp.MustCompile(`password \(shown once, stored nowhere\): (\S+)\n`)
	run := func(want string, args ...string) string {
		t.Helper()
		code, stdout, stderr := exec(t, "", args...)
		require.Equal(t, 0, code, stderr)
		require.Regexp(t, want, stdout)
		return stdout
	}
	hostOut := run(`(?s)^user logagent-10\.0\.0\.7 \(created\), role logagent-10\.0\.0\.7\n`+
		`  read      /logagent/10\.0\.0\.7/collect_config\n  write     /logagent/agents/10\.0\.0\.7\n`+
		`password \(shown once, stored nowhere\): \S{24}\n.*username: logagent-10\.0\.0\.7`, "etcd-auth", "host", "10.0.0.7")
	run(`user logagent-10\.0\.0\.8 \(created\)`, "etcd-auth", "host", "10.0.0.8")
	opOut := run(`^user logctl \(created\), role logctl-operator\n  readwrite /logagent/\* \(prefix\)\n  readwrite /logtransfer/topics\n`, "etcd-auth", "operator")
	rootOut := run(`^user root \(created\), role root\n`, "etcd-auth", "enable")

	t.Setenv("LOGCTL_ETCD_USER", "root")
	t.Setenv("LOGCTL_ETCD_PASSWORD", password.FindStringSubmatch(rootOut)[1])
	run(`(?s)user logagent-10\.0\.0\.7 \(exists\).*\npassword unchanged`, "etcd-auth", "host", "10.0.0.7")

	t.Setenv("LOGCTL_ETCD_USER", "logctl")
	t.Setenv("LOGCTL_ETCD_PASSWORD", password.FindStringSubmatch(opOut)[1])
	file := writeFile(t, "c.json", `[{"path":"/var/log/app.log","topic":"t"},{"path":"/etc/shadow","topic":"t"}]`)
	code, stdout, stderr := exec(t, "", "config", "set", "10.0.0.8", file)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "written")
	require.Contains(t, stdout, "logtransfer now also consumes t (/logtransfer/topics)", "the operator may add topics")
	require.Equal(t, `warning: task 1 (path "/etc/shadow"): path is outside files.allowed_paths ["/var/log/**"]`+"\n"+
		`warning: an agent with the default files.allowed_paths ["/var/log/**"] refuses this whole config; it applies only on hosts whose own config allows these paths`+"\n", stderr)

	t.Setenv("LOGCTL_ETCD_USER", "logagent-10.0.0.7")
	t.Setenv("LOGCTL_ETCD_PASSWORD", password.FindStringSubmatch(hostOut)[1])
	code, _, stderr = exec(t, "", "config", "get", "10.0.0.8")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "permission denied")
}
