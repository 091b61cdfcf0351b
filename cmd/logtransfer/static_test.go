package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testRestartResume measures, on the real broker, how long a restarted logtransfer takes to
// consume its partitions again, with static group membership (kafka.instance_id, on by
// default) and without (""), after a SIGTERM and after a kill -9: from the restart until the
// records produced while it was down are indexed. Without an instance id a killed member's
// partitions wait for its session to expire (kafka.session_timeout) before the new member gets
// them; with one the restarted member takes its place at once.
func testRestartResume(t *testing.T, rs *realServers) {
	const partitions, n, session = 4, 2000, 15 * time.Second
	resume := map[string]time.Duration{}
	for i, tc := range []struct {
		name       string
		instanceID string // "" : the default; else a kafka.instance_id line
		kill       bool
	}{
		{name: "static, SIGTERM"},
		{name: "static, kill -9", kill: true},
		{name: "no instance id, SIGTERM", instanceID: `instance_id: ""`},
		{name: "no instance id, kill -9", instanceID: `instance_id: ""`, kill: true},
	} {
		topic := fmt.Sprintf("restart%d", i)
		rs.createTopic(t, topic, partitions)
		config, metricsAddr := writeConfigSession(t, rs.brokers, rs.esURL, topic, topic, session.String(), 1)
		if tc.instanceID != "" {
			withKafkaKey(t, config, tc.instanceID)
		}
		p := startProc(t, config, metricsAddr)
		produce(t, rs.brokers, topic, 0, n)
		waitAtLeast(t, func() int { return rs.count(topic) }, n, time.Minute)
		rs.waitAssignment(t, topic, 1, partitions)
		if tc.kill {
			p.kill9()
		} else {
			p.stop()
		}
		produce(t, rs.brokers, topic, n, 2*n)
		restart := time.Now()
		p = startProc(t, config, metricsAddr)
		waitAtLeast(t, func() int { return rs.count(topic) }, 2*n, 2*session)
		resume[tc.name] = time.Since(restart)
		p.stop()
		rs.requireExactlyOnce(t, topic, 2*n)
		t.Logf("%s: partitions consumed again %s after the restart (session timeout %s)", tc.name, resume[tc.name].Round(10*time.Millisecond), session)
	}
	require.Less(t, resume["static, kill -9"], session/2, "a killed static member waited for its old session")
	require.Less(t, resume["static, kill -9"], resume["no instance id, kill -9"])
}

// withKafkaKey adds a line under kafka: in the config file at path.
func withKafkaKey(t *testing.T, path, line string) {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := strings.Replace(string(b), "kafka:\n", "kafka:\n  "+line+"\n", 1)
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
}
