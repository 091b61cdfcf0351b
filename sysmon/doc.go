// Package sysmon samples host statistics with gopsutil and writes them to InfluxDB in
// Telegraf's schema, so that Telegraf's Grafana host dashboards and queries work unchanged.
//
// # Lifecycle
//
// [New] validates a [Config] and builds the parts; [Sysmon.Run] samples every interval,
// aligned to multiples of it (10:00:00, 10:00:10, ...), and stamps every point of a sample
// with that time. Sampling never waits for InfluxDB: the points go to the [Writer]'s
// bounded buffer (max_buffered_points, oldest dropped first when full, counted; kept
// S2-compressed in 64 KiB chunks, ~3 MB for 100k points) and the writer sends them in
// batches with influxdb-client-go's WriteAPIBlocking. Points survive
// InfluxDB being unreachable, timeouts, 5xx and 429 and are retried with backoff; points
// InfluxDB rejects (other 4xx: wrong bucket, token, ...) are dropped and counted. When
// Run's context is done, sampling stops first and the writer gets shutdown_timeout to
// flush.
//
// The standalone binary is cmd/sysmon (config: [FileConfig], testdata/sysmon.yaml).
//
// # InfluxDB
//
// Without influx.url sysmon samples all the same, for its own metrics, and stores
// nothing: Run says so once at startup, and there is no writer, no influx readiness check
// and no sysmon_influx_up (so no InfluxDB-down alert). An https:// url is verified with
// the system roots, or with influx.tls (a CA file, an optional client certificate;
// insecure_skip_verify must be set explicitly and is logged); a certificate error names
// the endpoint and what to check. The token is best given as ${INFLUX_TOKEN} or
// ${file:PATH}; it has no flag and is never logged or shown.
//
// # Schema
//
// Every point has the tag host (the host name, or host: from the config) and the extra
// tags of the config. Integer fields are written as InfluxDB integers (as Telegraf does
// by default: unsigned counters clamped to MaxInt64), percentages and load as floats.
//
//	measurement  tags                          fields
//	cpu          cpu (cpu-total, cpu0, ...)    usage_user usage_system usage_idle usage_nice
//	                                           usage_iowait usage_irq usage_softirq usage_steal
//	                                           usage_guest usage_guest_nice [usage_active]
//	mem          -                             total available used used_percent
//	                                           available_percent active buffered cached
//	                                           commit_limit committed_as dirty free high_free
//	                                           high_total huge_pages_free huge_page_size
//	                                           huge_pages_total inactive low_free low_total
//	                                           mapped page_tables shared slab sreclaimable
//	                                           sunreclaim swap_cached swap_free swap_total
//	                                           vmalloc_chunk vmalloc_total vmalloc_used
//	                                           write_back write_back_tmp
//	swap         -                             total used free used_percent in out
//	system       -                             load1 load5 load15 n_cpus n_physical_cpus
//	                                           n_users n_unique_users uptime uptime_format
//	                                           boot_time (*)
//	disk         path device fstype mode       total free used used_percent inodes_total
//	                                           inodes_free inodes_used inodes_used_percent
//	diskio       name                          reads writes read_bytes write_bytes read_time
//	                                           write_time io_time weighted_io_time
//	                                           iops_in_progress merged_reads merged_writes
//	                                           io_await io_svctm io_util (from the 2nd sample)
//	net          interface                     bytes_sent bytes_recv packets_sent
//	                                           packets_recv err_in err_out drop_in drop_out
//	                                           speed
//	processes    -                             blocked zombies stopped running sleeping total
//	                                           unknown dead paging total_threads idle [parked]
//
// The names and formulas are those of Telegraf 1.37's cpu, mem (Linux field set), swap,
// system, disk, diskio, net and processes inputs:
//   - cpu: usage_* are percentages of the time between two samples, with guest time taken
//     out of user and nice, so the first sample after start only sets the baseline (Run
//     takes it at startup, so the first aligned sample has cpu points).
//   - disk: used_percent is used/(used+free), as Telegraf (not used/total as df).
//   - n_users and n_unique_users are absent where utmp cannot be read, as in Telegraf.
//   - (*) boot_time is sysmon's addition (the name of Telegraf's kernel input field);
//     extra fields do not disturb queries that name their fields.
//
// Differences from Telegraf's defaults, all configurable: per-CPU points are off
// (cpu.per_cpu), diskio skips loop* and ram* devices (diskio.ignore_devices), disk skips
// the pseudo file systems of [DefaultIgnoreFS] (Telegraf statfs's them and drops the
// zero-sized ones: same result). Not emitted: Telegraf's optional tags diskio serial/wwid
// and disk label, the cpu time_* fields (collect_cpu_time) and the net protocol
// statistics (interface=all), which Telegraf 1.37 no longer reports either.
//
// # Metrics
//
// sysmon_samples_total, sysmon_sample_duration_seconds, sysmon_input_errors_total{input},
// sysmon_points_written_total, sysmon_write_errors_total,
// sysmon_points_dropped_total{reason=overflow|rejected|shutdown}, sysmon_buffered_points,
// sysmon_influx_up (only with influx.url); see [NewMetrics].
package sysmon
