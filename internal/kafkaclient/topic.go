package kafkaclient

import "regexp"

// topicChars is what Kafka accepts in a topic name; ValidTopic checks the
// length (a counted repetition, {1,249}, would compile to 249 copies of the
// class, held by every process that links this package).
var topicChars = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// maxTopicLen is the longest topic name Kafka accepts.
const maxTopicLen = 249

// ValidTopic reports whether Kafka accepts name as a topic name: 1 to 249
// of [a-zA-Z0-9._-], and neither "." nor "..". logagent's tasks,
// logtransfer's topics and dead-letter topic, and the pipelines' topics are
// checked with it, so that all refuse the same names.
func ValidTopic(name string) bool {
	return len(name) <= maxTopicLen && topicChars.MatchString(name) && name != "." && name != ".."
}

// ValidInstanceID reports whether Kafka accepts id as a consumer's
// group.instance.id (static membership): the broker checks it with the
// topic-name rule of ValidTopic.
func ValidInstanceID(id string) bool { return ValidTopic(id) }
