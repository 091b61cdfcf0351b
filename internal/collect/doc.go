// Package collect is the collect-config format: what an operator writes to
// etcd (with logctl) and logagent reads there or from its own config file.
// A collect config is a JSON list of tasks ({path, topic} and options); a
// host's list lives under a key derived from its IP or name
// (DefaultCollectKey), and each running agent registers its AgentInfo under
// RegistrationKey. Policy is what a host lets such a config name
// (files.allowed_paths, kafka.allowed_topics).
//
// logagent and logctl both import it, so there is one parser and one
// validator: a config that `logctl config set` accepts is one the agents
// accept, with the same error messages (task index, path, field).
package collect
