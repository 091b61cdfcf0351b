package servers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// WaitReady calls probe every interval until it returns nil: the server is ready. It gives up
// when timeout has passed (with probe's last error), when the process exits, or when ctx is
// done. noun names the server in the errors: "node not ready after 1m30s: …", "node exited
// during startup: …". probe bounds each of its own attempts.
func (r *Run) WaitReady(ctx context.Context, noun string, timeout, interval time.Duration, probe func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := probe(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w", noun, timeout, err)
		}
		select {
		case <-r.Done():
			return fmt.Errorf("%s exited during startup: %v", noun, r.Err())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", noun, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// HTTPStatus returns a probe for WaitReady that GETs url with client, each attempt within a
// second, and wants the status want: Prometheus's /-/ready (200), InfluxDB's /ping (204).
func HTTPStatus(client *http.Client, url string, want int) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("GET %s: %s", req.URL.Path, resp.Status)
		}
		return nil
	}
}
