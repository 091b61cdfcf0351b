package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/internal/testenv"
)

// unitFile is a parsed systemd unit: section → key → values, in order (a
// key may repeat; an empty assignment is kept as "").
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			key, value, ok := strings.Cut(line, "=")
			require.Truef(t, ok && section != "", "%s:%d: not key=value in a section: %q", path, n, line)
			u[section][key] = append(u[section][key], value)
		}
	}
	require.NoError(t, sc.Err())
	return u
}

// last is the value in force of a key: the last assignment.
func (u unitFile) last(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// unitCase ties a unit to the example config it runs.
type unitCase struct {
	binary, configPath, example string
	env                         map[string]string // what /etc/default/<binary> would hold
}

var unitCases = []unitCase{
	{"logagent", "/etc/logagent/agent.yaml", "config/agent.yaml", nil},
	{"logtransfer", "/etc/logtransfer/transfer.yaml", "config/transfer.yaml", nil},
	{"sysmon", "/etc/sysmon/sysmon.yaml", "config/sysmon.yaml", map[string]string{"INFLUX_TOKEN": "t"}},
}

func TestSystemdUnits(t *testing.T) {
	for _, tc := range unitCases {
		t.Run(tc.binary, func(t *testing.T) {
			u := parseUnit(t, filepath.Join("systemd", tc.binary+".service"))
			svc := u["Service"]
			require.NotNil(t, svc, "[Service] section")
			bin := "/usr/local/bin/" + tc.binary
			require.Equal(t, bin+" -config "+tc.configPath, u.last("Service", "ExecStart"))
			require.Equal(t, bin+" -config "+tc.configPath+" -check-config", u.last("Service", "ExecStartPre"))

			// Hardening the issue asks for, and what a drain needs.
			for key, want := range map[string]string{
				"ProtectSystem":         "strict",
				"NoNewPrivileges":       "yes",
				"PrivateTmp":            "yes",
				"CapabilityBoundingSet": "",
				"AmbientCapabilities":   "",
				"Restart":               "on-failure",
				"KillSignal":            "SIGTERM",
			} {
				require.Containsf(t, svc, key, "%s= missing", key)
				require.Equalf(t, want, u.last("Service", key), "%s=", key)
			}
			require.Contains(t, []string{"yes", "read-only"}, u.last("Service", "ProtectHome"))
			user, dynamic := u.last("Service", "User"), u.last("Service", "DynamicUser")
			require.True(t, dynamic == "yes" || (user != "" && user != "root"), "a dedicated user: DynamicUser=yes or User= not root")

			cfg, err := loadWithEnv(t, tc.binary, tc.example, tc.env)
			require.NoError(t, err)
			stop, err := time.ParseDuration(u.last("Service", "TimeoutStopSec"))
			require.NoError(t, err, "TimeoutStopSec= must be set, in Go duration syntax")
			require.GreaterOrEqualf(t, stop, cfg.shutdown+5*time.Second,
				"TimeoutStopSec=%s leaves no room for shutdown_timeout %s of %s before SIGKILL", stop, cfg.shutdown, tc.example)

			if ac, ok := cfg.config.(agent.Config); ok {
				dir := ac.DataDir
				require.Contains(t, strings.Fields(strings.Join(svc["ReadWritePaths"], " ")), dir,
					"ReadWritePaths= must hold data_dir %s of %s", dir, tc.example)
				require.Equal(t, user, strings.TrimPrefix(dir, "/var/lib/"), "StateDirectory owner")
				require.Equal(t, filepath.Base(dir), u.last("Service", "StateDirectory"), "StateDirectory= creates data_dir for User=")
			}
			require.Contains(t, u["Install"]["WantedBy"], "multi-user.target")
		})
	}
}

// TestSysusersMatchesUnits checks that the static user the units name is
// the one logcollect-sysusers.conf creates.
func TestSysusersMatchesUnits(t *testing.T) {
	data, err := os.ReadFile("systemd/logcollect-sysusers.conf")
	require.NoError(t, err)
	users := map[string]bool{}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "u" {
			users[f[1]] = true
		}
	}
	for _, tc := range unitCases {
		u := parseUnit(t, filepath.Join("systemd", tc.binary+".service"))
		if user := u.last("Service", "User"); user != "" {
			require.Truef(t, users[user], "%s.service runs as %s, which logcollect-sysusers.conf does not create", tc.binary, user)
		}
	}
}

// stageUnits copies the units to a temporary directory with their
// /usr/local/bin binaries replaced by an executable stub, since
// systemd-analyze checks that ExecStart= names an executable.
func stageUnits(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	stub := filepath.Join(dir, "stub")
	require.NoError(t, os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755))
	var units []string
	for _, tc := range unitCases {
		data, err := os.ReadFile(filepath.Join("systemd", tc.binary+".service"))
		require.NoError(t, err)
		p := filepath.Join(dir, tc.binary+".service")
		require.NoError(t, os.WriteFile(p, []byte(strings.ReplaceAll(string(data), "/usr/local/bin/"+tc.binary, stub)), 0o644))
		units = append(units, p)
	}
	return units
}

func TestSystemdAnalyzeVerify(t *testing.T) {
	tool := testenv.Tool(t, "systemd-analyze", "systemd")
	units := stageUnits(t)
	out, err := exec.Command(tool, append([]string{"verify"}, units...)...).CombinedOutput()
	// verify exits 0 on unknown keys and bad values, printing a warning:
	// any output is a failure.
	require.NoError(t, err, "%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify warnings")
}

// TestSystemdAnalyzeSecurity keeps the units' exposure score (0 = fully
// sandboxed, 10 = not at all) where it is: about 1.5 today. --threshold
// counts tenths: 20 is 2.0.
func TestSystemdAnalyzeSecurity(t *testing.T) {
	tool := testenv.Tool(t, "systemd-analyze", "systemd")
	for _, p := range stageUnits(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			out, err := exec.Command(tool, "security", "--offline=true", "--threshold=20", p).CombinedOutput()
			require.NoError(t, err, "exposure above 2.0:\n%s", out)
		})
	}
}
