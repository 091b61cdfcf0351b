package deploy

import (
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/transfer"
)

// k8sObject is the part of a Kubernetes object the tests read.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds *int64 `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               struct {
					RunAsNonRoot *bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
					HostPath *struct {
						Path string `yaml:"path"`
						Type string `yaml:"type"`
					} `yaml:"hostPath"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Env     []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
			SecretKeyRef *struct {
				Name     string `yaml:"name"`
				Key      string `yaml:"key"`
				Optional bool   `yaml:"optional"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []k8sVolumeMount `yaml:"volumeMounts"`
}

type k8sVolumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type kustomization struct {
	Namespace string   `yaml:"namespace"`
	Resources []string `yaml:"resources"`
	Images    []struct {
		Name string `yaml:"name"`
	} `yaml:"images"`
}

// loadManifests parses every document of the files kustomization.yaml
// lists.
func loadManifests(t *testing.T) (kustomization, []k8sObject) {
	t.Helper()
	var k kustomization
	readYAML(t, "kubernetes/kustomization.yaml", &k)
	files, err := filepath.Glob("kubernetes/*.yaml")
	require.NoError(t, err)
	var listed []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			listed = append(listed, filepath.Base(f))
		}
	}
	require.ElementsMatch(t, listed, k.Resources, "kustomization.yaml must list every manifest")

	var objs []k8sObject
	for _, r := range k.Resources {
		f, err := os.Open(filepath.Join("kubernetes", r))
		require.NoError(t, err)
		dec := yaml.NewDecoder(f)
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, r)
			objs = append(objs, o)
		}
		f.Close()
	}
	return k, objs
}

// TestKubernetesObjects checks what every object needs to be applied.
func TestKubernetesObjects(t *testing.T) {
	k, objs := loadManifests(t)
	apiVersions := map[string]string{"Namespace": "v1", "ConfigMap": "v1", "DaemonSet": "apps/v1", "Deployment": "apps/v1"}
	for _, o := range objs {
		want, ok := apiVersions[o.Kind]
		require.Truef(t, ok, "unexpected kind %q (%s)", o.Kind, o.Metadata.Name)
		require.Equal(t, want, o.APIVersion, "%s %s", o.Kind, o.Metadata.Name)
		require.NotEmpty(t, o.Metadata.Name, o.Kind)
		if o.Kind != "Namespace" {
			require.Equal(t, k.Namespace, o.Metadata.Namespace, "%s %s", o.Kind, o.Metadata.Name)
		}
	}
}

// podEnv is a container's environment as the kubelet would set it on a
// node with IP 10.0.0.7 named node-1, without the optional secrets.
func podEnv(t *testing.T, c k8sContainer) map[string]string {
	t.Helper()
	fields := map[string]string{"status.hostIP": "10.0.0.7", "spec.nodeName": "node-1", "status.podIP": "10.244.0.5"}
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			v, ok := fields[e.ValueFrom.FieldRef.FieldPath]
			require.Truef(t, ok, "env %s: field %s", e.Name, e.ValueFrom.FieldRef.FieldPath)
			env[e.Name] = v
		case e.ValueFrom.SecretKeyRef != nil:
			require.Truef(t, e.ValueFrom.SecretKeyRef.Optional, "env %s: a secret that must exist before the pod starts", e.Name)
		}
	}
	return env
}

// TestKubernetesWorkloads checks each workload against the config it runs:
// the config in its ConfigMap loads with the pod's environment, and its
// metrics port is the container port, the probes' port and the scrape
// annotation; the pod may drain before SIGKILL and is locked down.
func TestKubernetesWorkloads(t *testing.T) {
	k, objs := loadManifests(t)
	configMaps := map[string]map[string]string{}
	for _, o := range objs {
		if o.Kind == "ConfigMap" {
			configMaps[o.Metadata.Name] = o.Data
		}
	}
	tests := []struct {
		kind, name, binary string
	}{
		{"DaemonSet", "logagent", "logagent"},
		{"Deployment", "logtransfer", "logtransfer"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			i := slices.IndexFunc(objs, func(o k8sObject) bool { return o.Kind == tt.kind && o.Metadata.Name == tt.name })
			require.GreaterOrEqual(t, i, 0, "no %s %s", tt.kind, tt.name)
			o := objs[i]
			pod := o.Spec.Template
			require.NotEmpty(t, o.Spec.Selector.MatchLabels)
			for key, v := range o.Spec.Selector.MatchLabels {
				require.Equal(t, v, pod.Metadata.Labels[key], "the selector must match the pod labels")
			}
			require.Len(t, pod.Spec.Containers, 1)
			c := pod.Spec.Containers[0]
			require.Contains(t, []string{k.Images[0].Name}, strings.Split(c.Image, ":")[0], "the image kustomization.yaml sets")

			// The config file comes from a ConfigMap and loads.
			require.Len(t, c.Command, 3)
			require.Equal(t, []string{tt.binary, "-config"}, c.Command[:2])
			configPath := c.Command[2]
			mount := slices.IndexFunc(c.VolumeMounts, func(m k8sVolumeMount) bool { return m.MountPath == path.Dir(configPath) })
			require.GreaterOrEqual(t, mount, 0, "no volume mounted at %s", path.Dir(configPath))
			volumes := map[string]int{}
			for j, v := range pod.Spec.Volumes {
				volumes[v.Name] = j
			}
			vol := pod.Spec.Volumes[volumes[c.VolumeMounts[mount].Name]]
			require.NotNil(t, vol.ConfigMap, "%s is not a ConfigMap", path.Dir(configPath))
			data, ok := configMaps[vol.ConfigMap.Name][path.Base(configPath)]
			require.Truef(t, ok, "ConfigMap %s has no key %s", vol.ConfigMap.Name, path.Base(configPath))
			file := filepath.Join(t.TempDir(), path.Base(configPath))
			require.NoError(t, os.WriteFile(file, []byte(data), 0o600))
			cfg, err := loadWithEnv(t, tt.binary, file, podEnv(t, c))
			require.NoError(t, err, "the %s config of ConfigMap %s", tt.binary, vol.ConfigMap.Name)
			if tr, ok := cfg.config.(transfer.Config); ok {
				requireTopicsFromLogctl(t, tr, "ConfigMap "+vol.ConfigMap.Name)
			}

			// One metrics port everywhere.
			port := listenPort(t, cfg.listen)
			require.Len(t, c.Ports, 1)
			require.Equal(t, port, c.Ports[0].ContainerPort)
			require.Equal(t, "true", pod.Metadata.Annotations["prometheus.io/scrape"])
			require.Equal(t, strconv.Itoa(port), pod.Metadata.Annotations["prometheus.io/port"])
			for probe, want := range map[*k8sProbe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
				require.NotNil(t, probe, want)
				require.NotNil(t, probe.HTTPGet, want)
				require.Equal(t, want, probe.HTTPGet.Path)
				require.Contains(t, []any{c.Ports[0].Name, port}, probe.HTTPGet.Port, "probe %s", want)
			}

			require.NotNil(t, pod.Spec.TerminationGracePeriodSeconds)
			grace := time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
			require.GreaterOrEqualf(t, grace, cfg.shutdown+5*time.Second, "terminationGracePeriodSeconds vs shutdown_timeout %s", cfg.shutdown)
			for _, r := range []string{"cpu", "memory"} {
				require.NotEmpty(t, c.Resources.Requests[r], "requests.%s", r)
				require.NotEmpty(t, c.Resources.Limits[r], "limits.%s", r)
			}
			sc := c.SecurityContext
			require.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "allowPrivilegeEscalation: false")
			require.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "readOnlyRootFilesystem: true")
			require.Equal(t, []string{"ALL"}, sc.Capabilities.Drop)

			// The agent: the node's logs read-only, data_dir on the node, and
			// the node's IP in its collect key.
			if ac, ok := cfg.config.(agent.Config); ok {
				hostPaths := map[string]bool{} // mount path → read-only
				for _, m := range c.VolumeMounts {
					if hp := pod.Spec.Volumes[volumes[m.Name]].HostPath; hp != nil {
						require.Equal(t, hp.Path, m.MountPath, "host paths are mounted where they are on the node")
						hostPaths[m.MountPath] = m.ReadOnly
					}
				}
				ro, ok := hostPaths["/var/log"]
				require.True(t, ok && ro, "/var/log mounted read-only from the node")
				ro, ok = hostPaths[ac.DataDir]
				require.True(t, ok && !ro, "data_dir %s must be a writable hostPath: offsets survive the pod", ac.DataDir)
				require.Equal(t, "10.0.0.7", ac.Host.IP, "host.ip from the downward API (status.hostIP)")
				require.Equal(t, "/logagent/10.0.0.7/collect_config", ac.ExpandCollectKey(ac.Host.IP, ac.Host.Name))
			} else {
				// Only the agent, which reads root's logs, runs as root.
				nonRoot := pod.Spec.SecurityContext.RunAsNonRoot
				require.True(t, nonRoot != nil && *nonRoot, "runAsNonRoot: true")
			}
		})
	}
}
