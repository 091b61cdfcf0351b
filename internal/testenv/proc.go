package testenv

import (
	"net"
	"os"
	"testing"

	"github.com/logcollect/logcollect/internal/servers"
)

// skipOrFail skips the test when a server or tool is missing, or fails it when CI=true, where
// .ci/run has installed everything.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	t.Skip(err)
}

// cacheDir is where the fetch scripts put the servers (servers.CacheDir).
func cacheDir() (string, error) { return servers.CacheDir() }

// freePort returns a free loopback port. Another process could take it before the server
// binds it, but it is unlikely.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logFailure logs the last lines of p's log if t has failed. Call it before stopping p, whose
// shutdown lines would fill the tail.
func logFailure(t testing.TB, p *servers.Proc) {
	if t.Failed() {
		t.Logf("%s: last lines of %s:\n%s", p.Name, p.Log, p.LogTail())
	}
}

// freePorts returns two distinct free loopback ports. Another process could take one before
// the server binds it, but it is unlikely.
func freePorts(t testing.TB) (int, int) {
	t.Helper()
	ports := freePortList(t, 2)
	return ports[0], ports[1]
}

// freePortList returns n distinct free loopback ports.
func freePortList(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close() // held until all are chosen, so they differ
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}
