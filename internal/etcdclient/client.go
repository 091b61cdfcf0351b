package etcdclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// New returns a client for cfg: endpoints, dial timeout, user and password,
// TLS. It never waits for etcd: with etcd down it returns a client whose
// requests fail (or wait for their context) until etcd is back, so that a
// service starts and runs with what it has (logagent its cached tasks). cfg
// must be valid (Config.Validate). The caller closes the client.
func New(cfg Config) (*clientv3.Client, error) {
	tlsCfg, err := cfg.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("etcd tls: %w", err)
	}
	ccfg := clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout.D(),
		// Find dead connections (etcd host gone without a FIN) so that the
		// watch and the lease keep-alive move to a live endpoint.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Username:             cfg.Username,
		Password:             cfg.Password,
		TLS:                  tlsCfg,
		Logger:               zap.NewNop(), // failures are logged by the callers, with context
		DialOptions: []grpc.DialOption{
			grpc.WithChainUnaryInterceptor(keepDialError),
			// gRPC's default reconnect backoff grows to 2 minutes: after a
			// long outage a service would notice etcd is back that late.
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 500 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
				MinConnectTimeout: 5 * time.Second,
			}),
		},
	}
	// With a user and password, clientv3.New authenticates before
	// returning, waiting up to DialTimeout and failing when etcd is down. To
	// start anyway, the Authenticate call made inside New is answered
	// locally with "auth not enabled": the client starts without a token.
	// Until a later Authenticate succeeds, every request is answered locally
	// with "user name is empty", on which clientv3 fetches a token and
	// retries (see shouldRefreshToken in client/v3/retry_interceptor.go);
	// later Authenticate calls (token refreshes) go to etcd. A wrong
	// password thus shows up as the error of the first request instead of
	// an error here. No request leaves without the token: one would be
	// anonymous, and with etcd's --client-cert-auth it would run as the
	// user named by the client certificate's CN instead of the configured
	// one. (A watch opened before any other request is not held back; the
	// services always read before they watch.)
	var constructing, authenticated atomic.Bool
	if cfg.Username != "" && cfg.Password != "" {
		constructing.Store(true)
		ccfg.DialOptions = append(ccfg.DialOptions, grpc.WithChainUnaryInterceptor(
			func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				if method != "/etcdserverpb.Auth/Authenticate" {
					if !authenticated.Load() {
						return rpctypes.ErrGRPCUserEmpty
					}
					return invoker(ctx, method, req, reply, cc, opts...)
				}
				if constructing.Load() {
					return rpctypes.ErrGRPCAuthNotEnabled
				}
				err := invoker(ctx, method, req, reply, cc, opts...)
				if err == nil || errors.Is(rpctypes.Error(err), rpctypes.ErrAuthNotEnabled) {
					authenticated.Store(true)
				}
				return err
			}))
	}
	cli, err := clientv3.New(ccfg)
	constructing.Store(false)
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", cfg.Endpoints, err)
	}
	return cli, nil
}

// keepDialError returns an interceptor that keeps the reason when a request
// waited for a connection until its deadline. gRPC's status then says why it
// could not connect (a TLS handshake that failed on an unknown CA or an
// expired certificate, a refused connection), but clientv3 replaces a
// deadline status by the bare ctx.Err(), "context deadline exceeded". The
// status is returned as a plain error, which clientv3 leaves alone.
func keepDialError(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err != nil && status.Code(err) == codes.DeadlineExceeded && strings.Contains(err.Error(), "connection error") {
		return errors.New(status.Convert(err).Message())
	}
	return err
}
