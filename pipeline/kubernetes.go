package pipeline

import (
	"fmt"
	"strings"
)

// The kubernetes processor names a container log's pod, namespace and
// container from the path of its file, which the kubelet chooses:
//
//	/var/log/containers/<pod>_<namespace>_<container>-<container id>.log
//	/var/log/pods/<namespace>_<pod>_<pod uid>/<container>/<restart count>.log
//
// (pkg/kubelet/kuberuntime/helpers.go, BuildContainerLogsDirectory and
// logSymlink: the first are symlinks to the second). The first gives
// kubernetes.pod.name, kubernetes.namespace, kubernetes.container.name and
// container.id (64 hex digits); the second the same without container.id
// but with kubernetes.pod.uid, and also matches the files the kubelet
// rotates (0.log.20261207-100000). Only the end of the path counts, so
// that a host's /var/log mounted elsewhere in the agent's pod works.
//
//	kubernetes: {field: log.file.path}
//
// field is the field holding the path (default log.file.path, where the
// agent puts it). A path of neither form is an error, so the event is
// flagged: a pipeline for container logs that gets another file is
// misconfigured. Where some files of a topic are not container logs, give
// the step ignore_failure: true (or an if: condition) to leave them as
// they are.
//
// Pod names, namespaces and container names hold no '_' (they are DNS
// subdomains and labels), which is what lets the path be split.
type kubernetesProc struct{ field string }

func init() { register("kubernetes", newKubernetes) }

func newKubernetes(pc ProcessorConfig) (Processor, error) {
	field, err := presetField(pc, "log.file.path")
	if err != nil {
		return nil, err
	}
	return &kubernetesProc{field: field}, nil
}

// kubernetesPath is what a container log's path says.
type kubernetesPath struct {
	pod, namespace, container string
	containerID               string // the /var/log/containers form
	podUID                    string // the /var/log/pods form
}

// parseKubernetesPath reads either form; ok is false for another path.
func parseKubernetesPath(path string) (k kubernetesPath, ok bool) {
	dir, file := kubernetesSplit(path)
	parent, dir := kubernetesSplit(dir)
	if dir == "containers" {
		if k, ok := parseKubernetesContainersPath(file); ok {
			return k, true
		}
	}
	// /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log, or
	// <n>.log.<when> once rotated.
	_, podDir := kubernetesSplit(parent)
	n, ok := strings.CutSuffix(file, ".log")
	if !ok {
		var rotated string
		if n, rotated, ok = strings.Cut(file, ".log."); !ok || rotated == "" {
			return k, false
		}
	}
	namespace, pod, uid, ok := kubernetesThree(podDir)
	if !ok || !presetDigits(n) || dir == "" {
		return k, false
	}
	return kubernetesPath{pod: pod, namespace: namespace, container: dir, podUID: uid}, true
}

// parseKubernetesContainersPath reads the name of a file in
// /var/log/containers: <pod>_<namespace>_<container>-<id>.log.
func parseKubernetesContainersPath(file string) (k kubernetesPath, ok bool) {
	name, ok := strings.CutSuffix(file, ".log")
	if !ok {
		return k, false
	}
	pod, namespace, rest, ok := kubernetesThree(name)
	// rest is <container>-<64 hex digits>.
	if !ok || len(rest) < 66 || rest[len(rest)-65] != '-' || !kubernetesHex(rest[len(rest)-64:]) {
		return k, false
	}
	return kubernetesPath{pod: pod, namespace: namespace, container: rest[:len(rest)-65], containerID: rest[len(rest)-64:]}, true
}

// kubernetesSplit splits path at its last '/'.
func kubernetesSplit(path string) (dir, name string) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

// kubernetesThree splits s into three non-empty parts at its first two '_'.
func kubernetesThree(s string) (a, b, c string, ok bool) {
	a, rest, ok1 := strings.Cut(s, "_")
	b, c, ok2 := strings.Cut(rest, "_")
	return a, b, c, ok1 && ok2 && a != "" && b != "" && c != ""
}

// kubernetesHex reports whether s is lower-case hex digits, as container
// ids are.
func kubernetesHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (p *kubernetesProc) Process(e *Event) error {
	path, err := presetLine(e, p.field)
	if err != nil {
		return err
	}
	k, ok := parseKubernetesPath(path)
	if !ok {
		return fmt.Errorf("path %q is neither /var/log/containers/<pod>_<namespace>_<container>-<id>.log nor /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log", path)
	}
	if err := e.Put("kubernetes.pod.name", k.pod); err != nil {
		return err
	}
	if err := e.Put("kubernetes.namespace", k.namespace); err != nil {
		return err
	}
	if err := e.Put("kubernetes.container.name", k.container); err != nil {
		return err
	}
	if k.containerID != "" {
		return e.Put("container.id", k.containerID)
	}
	return e.Put("kubernetes.pod.uid", k.podUID)
}
