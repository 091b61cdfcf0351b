// Package ctl is the logic of logctl, the operator's command line for a
// logcollect pipeline: it reads and writes the agents' collect configs in
// etcd, lists the live agents, searches the indexed logs in Elasticsearch,
// shows the transfer's consumer lag in Kafka, and lists and prunes the
// transfer's dated indices (by the rules of package esindex, which
// logtransfer's retention follows too). cmd/logctl only parses flags and
// calls it.
//
// Why it is built the way it is:
//
//   - One validator. A collect config is checked with agent.ParseTasks, the
//     function the agent itself runs on every etcd update, so logctl accepts
//     exactly what an agent would apply and refuses what it would reject.
//   - No silent overwrite. ConfigStore.Put writes with an etcd transaction
//     that compares the key's ModRevision with the one read before the change
//     was prepared (for Edit: before the editor opened). If another operator
//     wrote the key meanwhile, nothing is written and a *ConflictError says
//     which revisions differ.
//   - A new log source is indexed, not only shipped. A task's topic must
//     also be consumed by logtransfer: Put adds the topics it does not list
//     yet to logtransfer's etcd topics key (etcd.topics_key, which
//     logtransfer watches), in the same transaction as the collect config,
//     so the two cannot disagree after a failure.
//   - Live agents only. Agents are listed from their registration keys
//     (agent.RegistrationKey), which are bound to a lease the agent keeps
//     alive, so a dead agent disappears within the lease TTL. Their metrics
//     are scraped from the metrics_url each one publishes there.
//   - Follow without gaps or duplicates. A document becomes searchable only
//     after the agent, Kafka, logtransfer and an index refresh have handled
//     it, so documents do not appear in @timestamp order and a cursor on
//     @timestamp alone would skip the late ones. Searcher.Follow re-reads a
//     window of --lookback behind the newest document seen (paging with
//     search_after on @timestamp and _id) and prints only the ids it has not
//     printed yet.
//   - Least privilege in etcd. EtcdAuthAdmin (logctl etcd-auth) gives each
//     agent host a user whose role reads only its own collect key and writes
//     only its own registration key, so one compromised host cannot rewrite
//     another's config; operators get a role of their own. Roles are set to
//     exactly their permissions on every run, so the commands can be re-run.
//   - Clear connection errors. When a server cannot be reached the error
//     names the service and its addresses, what was being done and, after a
//     TCP probe, why (connection refused, no route, timeout).
package ctl
