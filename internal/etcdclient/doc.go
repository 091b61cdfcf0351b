// Package etcdclient builds the etcd clients of logcollect: logagent's (its
// collect config, its registration), logtransfer's (the topics key) and
// logctl's. They share one config (endpoints, dial timeout, credentials, TLS)
// with one set of rules, and one client that starts without etcd and keeps
// the reason of a failed dial (a bad certificate, a refused connection)
// instead of etcd's bare "context deadline exceeded".
package etcdclient
