// Command gen writes the Grafana dashboards of package dashboards as JSON.
//
//	go generate ./dashboards              # from the repository root
//	go run ./dashboards/gen -out dashboards
//
// The JSON is checked in (Grafana provisions it from
// deploy/grafana/provisioning) and TestGeneratedDashboardsUpToDate fails
// when it differs from what this writes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/logcollect/logcollect/dashboards"
)

func main() {
	out := flag.String("out", ".", "the dashboards directory to write into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	files, err := dashboards.Generate()
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(out, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", p)
	}
	return nil
}
