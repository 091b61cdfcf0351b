// Package agent is logagent: it tails log files and ships each line, or each
// multiline event, to Kafka as one record.
//
// # What it guarantees
//
// At-least-once delivery. A line is only skipped when Kafka has acknowledged
// it: the offset of a file is committed to the registry (in data_dir) only
// after Kafka acks every record up to that offset, never when the line is
// merely read or handed to the producer. A line the task's include_lines /
// exclude_lines drop (counted in logagent_lines_filtered_total) produces no
// record; its offset is committed once Kafka has acked every record before
// it (entry.skip in registry.go), so a file whose last lines are filtered is
// still committed to its end. After a crash, a restart, a Kafka
// outage or a failed produce, the agent re-reads from the last committed
// offset, so some lines may be shipped twice but none is lost while its file
// still exists. Files are identified by device, inode and a fingerprint of
// their first bytes, not by path, so rotation by rename is followed and a
// reused inode is not mistaken for the old file.
//
// Lines sent twice are not indexed twice. Each event carries an id in the
// record header record.IDHeader (internal/record, the contract with
// logtransfer): the epoch the registry gave the file's content (a
// random value, new for a new file and after a truncation, saved before the
// first line is sent) and the event's start offset. A line read again from a
// committed offset gets the id it had; logtransfer uses it as the document id.
//
// Bounded memory. Lines read but not yet acked are capped by
// kafka.max_buffered_records and kafka.max_buffered_bytes. When the cap is
// reached (Kafka slow or down) the agent stops reading: lines wait in the
// files, nothing is dropped. A line longer than max_line_bytes is cut, and a
// multiline event (and a container line joined from partial records, see
// container.go) is capped by max_line_bytes and multiline.max_lines; such
// events are flagged as truncated, and the offsets of the dropped bytes still
// advance. On SIGTERM the agent stops reading and waits up to
// shutdown_timeout for the buffered records to be acked.
//
// Configuration. The agent's own settings come from a YAML file (LoadConfig;
// testdata/agent.yaml documents every key). Collect tasks come from the etcd
// key etcd.collect_key, a JSON array such as
//
//	[{"path":"/var/log/nginx/access.log","topic":"web_log"},
//	 {"path":"/var/log/app/*.log","topic":"app_log"}]
//
// (the collect-config format, internal/collect: collect.ParseTasks and
// collect.Task, shared with logctl), or from the file's tasks list when no etcd
// endpoint is configured. The key is read, then watched. A task list that
// does not parse or validate is rejected as a whole and logged, and the tasks
// running keep running. The last good list is cached on disk, so the agent
// starts and collects with it while etcd is unreachable. Unchanged tasks
// (collect.Task.Equal) keep running across updates; changed ones restart
// from their committed offsets.
//
// What etcd may name. Whoever writes the collect key decides what the agent
// reads, and the agent often runs as root, so the host has the last word:
// files.allowed_paths and kafka.allowed_topics in the YAML file
// (collect.Policy). The EtcdSource refuses a list naming a file or topic
// outside them, as it refuses an invalid one; and every file of a task that
// did not come from the file is checked again when it is opened, with its
// symlinks resolved, and opened without following any (openfile.go), so a
// symlink planted in /var/log, or created after the list was checked, does
// not lead elsewhere.
//
// # A line's path, file by file
//
// agent.go and taskrunner.go run one harvester per file of a task;
// harvester.go reads the file (linereader.go; container.go joins the partial
// records of a container runtime when the task sets container_format;
// multiline.go joins lines into events; filter.go drops those the task's
// line filters reject) and takes
// the record's memory from arena.go; encode.go writes the record value; shipper.go hands it to Kafka within the in-flight bounds of
// limiter.go and, on acknowledgement, commits the offset to registry.go.
// etcdsource.go follows the collect config in etcd, registration.go keeps the
// agent registered there. The Kafka and etcd clients themselves are built by
// internal/kafkaclient and internal/etcdclient, shared with logtransfer and
// logctl.
package agent
