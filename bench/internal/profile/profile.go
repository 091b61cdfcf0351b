// Package profile starts and stops the CPU profile of the benchmark
// commands that profile a daemon's code path (bench/agentprof,
// bench/transferprof).
package profile

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// CPU starts a CPU profile written to path; stop ends it and closes the file.
func CPU(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
