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

// freePorts returns two distinct free loopback ports. Another process could take one before
// the server binds it, but it is unlikely.
func freePorts(t testing.TB) (int, int) {
	t.Helper()
	var ports [2]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close() // held until both are chosen, so they differ
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1]
}
