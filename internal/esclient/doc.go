// Package esclient builds the Elasticsearch clients of logcollect
// (olivere/elastic): logtransfer's, which indexes, and logctl's, which
// searches. Both read the same settings (URLs, basic auth or API key, a tls:
// block like Kafka's and etcd's) with the same rules, so that what works for
// one works for the other.
package esclient
