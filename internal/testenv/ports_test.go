package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/servers"
)

// hold listens on a free loopback port until release is called (or the test ends).
func hold(t *testing.T) (port int, release func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port, func() { l.Close() }
}

func TestStartOnFreshPorts(t *testing.T) {
	inUse := fmt.Errorf("kafka: %w: broker exited during startup\nlog tail", servers.ErrPortInUse)
	other := errors.New("kafka: broker not ready after 2m")
	for _, tc := range []struct {
		name      string
		results   []error
		wantErr   error
		wantCalls int
	}{
		{"first start works", []error{nil}, nil, 1},
		{"a taken port, then fresh ones", []error{inUse, nil}, nil, 2},
		{"taken every time: gives up", []error{inUse, inUse, inUse, nil}, servers.ErrPortInUse, portAttempts},
		{"another error is not retried", []error{other, nil}, other, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := startOnFreshPorts(t, func() error { calls++; return tc.results[calls-1] })
			require.ErrorIs(t, err, tc.wantErr)
			if tc.wantErr == nil {
				require.NoError(t, err)
			}
			require.Equal(t, tc.wantCalls, calls)
		})
	}
}

// A restart whose port is still held waits until it is free, then starts again on it.
func TestRestartOnSamePortsWaitsForThePort(t *testing.T) {
	port, release := hold(t)
	time.AfterFunc(500*time.Millisecond, release)
	calls := 0
	start := time.Now()
	err := restartOnSamePorts(t, func() error {
		calls++
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			return nil
		}
		return fmt.Errorf("x: %w", servers.ErrPortInUse)
	}, []int{port})
	require.NoError(t, err)
	require.Equal(t, 2, calls, "one failed start, one after the wait")
	require.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond)
}

// The real broker: the first ports chosen have the controller port (bound first) taken, as
// when another process binds it between freePorts and the JVM's bind; the broker fails with
// ErrPortInUse and startKafka starts it again on fresh ports.
func TestStartKafkaRetriesATakenPort(t *testing.T) {
	taken, _ := hold(t)
	calls := 0
	k := startKafka(t, KafkaOptions{ports: func(t testing.TB) (int, int) {
		calls++
		port, ctrl := freePorts(t)
		if calls == 1 {
			return port, taken
		}
		return port, ctrl
	}})
	require.Equal(t, 2, calls)
	require.NotContains(t, k.Ports(), taken)
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.Ping(t.Context()))
}

// A restarted Elasticsearch node whose HTTP port is still held (by the node that just exited,
// or a client connection) waits for it and comes back on the same port. The port is released
// once the node's log shows the failed bind.
func TestElasticsearchRestartWaitsForItsPort(t *testing.T) {
	e := StartElasticsearch(t)
	url := e.URL()
	require.NoError(t, e.Stop())
	l, err := net.Listen("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	defer l.Close()
	before, err := os.ReadFile(e.Log())
	require.NoError(t, err)
	failedBind := func() bool {
		log, err := os.ReadFile(e.Log())
		return err == nil && strings.Contains(string(log[len(before):]), "Address already in use")
	}
	go func() {
		defer l.Close()
		for deadline := time.Now().Add(2 * time.Minute); !failedBind() && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
	}()

	require.NoError(t, e.Start())
	require.True(t, failedBind(), "the first restart found the port taken")
	require.Equal(t, url, e.URL())
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
