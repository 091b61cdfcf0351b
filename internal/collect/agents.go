package collect

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultCollectKey is where a host's collect config is in etcd unless
// logagent's etcd.collect_key says otherwise: {ip} and {hostname} are the
// host's (see ExpandCollectKey).
const DefaultCollectKey = "/logagent/{ip}/collect_config"

// ExpandCollectKey returns the etcd key of a host's collect config: the
// template (a collect_key such as DefaultCollectKey) with {ip} and
// {hostname} replaced.
func ExpandCollectKey(template, ip, hostname string) string {
	return strings.NewReplacer("{ip}", ip, "{hostname}", hostname).Replace(template)
}

// AgentInfo is what a running agent publishes under RegistrationKey(IP).
type AgentInfo struct {
	Hostname   string    `json:"hostname"`
	IP         string    `json:"ip"`
	Version    string    `json:"version"`
	StartTime  time.Time `json:"start_time"`
	Tasks      int       `json:"tasks"`
	MetricsURL string    `json:"metrics_url,omitempty"`
}

// RegistrationKey is the etcd key where the agent with this IP registers.
func RegistrationKey(ip string) string { return "/logagent/agents/" + ip }

// placeholder finds a {placeholder} left in a collect key.
var placeholder = regexp.MustCompile(`\{[^}]*\}`)

// CheckCollectKey checks a collect key template: an absolute etcd key whose
// only placeholders are {ip} and {hostname}.
func CheckCollectKey(template string) error {
	if !strings.HasPrefix(template, "/") {
		return errors.New("must start with /")
	}
	if p := placeholder.FindString(strings.NewReplacer("{ip}", "", "{hostname}", "").Replace(template)); p != "" {
		return fmt.Errorf("unknown placeholder %s, want {ip} or {hostname}", p)
	}
	return nil
}
