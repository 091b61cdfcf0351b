// Package config holds the config-file conventions shared by every binary
// (logagent, logtransfer, sysmon), so that they all read YAML the same way and
// report problems with the same messages:
//
//   - Environment expansion (ExpandEnv): ${VAR} and ${VAR:-default}, $${ for a
//     literal ${, whole-line comments left alone; ${file:PATH} for a secret
//     kept in a file.
//   - Strict YAML (Load, Decode): an unknown key is an error with its line
//     number, and a file holds one document.
//   - Durations (Duration): Go duration strings such as "10s" in YAML and
//     JSON; bare numbers are rejected because they have no unit.
//   - Field-named errors (Errors, SetDefault, CheckHostPort): every problem is
//     reported, each prefixed by the field's path in the file, such as
//     `kafka.brokers[0] "kafka": must be host:port: missing port in address`.
//   - TLS client settings (TLSConfig) and their checks.
//   - URLs shown in logs and messages without their password (RedactURL).
//   - The log section (LogConfig): level and format, checked, and the
//     *slog.Logger they describe (NewLogger).
//
// Each binary keeps its own Config type and its Validate method; this package
// only holds the machinery they share.
package config
