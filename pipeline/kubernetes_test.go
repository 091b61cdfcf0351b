package pipeline

import (
	"strings"
	"testing"
)

func TestKubernetes(t *testing.T) {
	id := "3f4e1b2c" + strings.Repeat("0123456789abcdef", 3) + "01234567"
	withPath := func(path string) string {
		return `{"message":"x","log":{"file":{"path":"` + path + `"},"offset":0}}`
	}
	runPresetCases(t, "kubernetes: {}", []presetCase{
		{name: "/var/log/containers",
			in: withPath("/var/log/containers/web-7d4b9c8f5-x2x9q_shop_nginx-" + id + ".log"),
			want: `{"message":"x","log":{"file":{"path":"/var/log/containers/web-7d4b9c8f5-x2x9q_shop_nginx-` + id + `.log"},"offset":0},
				"kubernetes":{"pod":{"name":"web-7d4b9c8f5-x2x9q"},"namespace":"shop","container":{"name":"nginx"}},"container":{"id":"` + id + `"}}`},
		{name: "a dashed container name, a dotted pod name, the host's /var/log mounted elsewhere",
			in: withPath("/host/var/log/containers/etcd-cp1.example.com_kube-system_etcd-backup-" + id + ".log"),
			want: `{"message":"x","log":{"file":{"path":"/host/var/log/containers/etcd-cp1.example.com_kube-system_etcd-backup-` + id + `.log"},"offset":0},
				"kubernetes":{"pod":{"name":"etcd-cp1.example.com"},"namespace":"kube-system","container":{"name":"etcd-backup"}},"container":{"id":"` + id + `"}}`},
		{name: "/var/log/pods",
			in: withPath("/var/log/pods/shop_web-7d4b9c8f5-x2x9q_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/nginx/0.log"),
			want: `{"message":"x","log":{"file":{"path":"/var/log/pods/shop_web-7d4b9c8f5-x2x9q_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/nginx/0.log"},"offset":0},
				"kubernetes":{"pod":{"name":"web-7d4b9c8f5-x2x9q","uid":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},"namespace":"shop","container":{"name":"nginx"}}}`},
		{name: "/var/log/pods, rotated",
			in: withPath("/var/log/pods/shop_web-1_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/nginx/3.log.20261207-100000"),
			want: `{"message":"x","log":{"file":{"path":"/var/log/pods/shop_web-1_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/nginx/3.log.20261207-100000"},"offset":0},
				"kubernetes":{"pod":{"name":"web-1","uid":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},"namespace":"shop","container":{"name":"nginx"}}}`},
		{name: "a container named containers", in: withPath("/var/log/pods/ns_pod_uid/containers/0.log"),
			want: `{"message":"x","log":{"file":{"path":"/var/log/pods/ns_pod_uid/containers/0.log"},"offset":0},
				"kubernetes":{"pod":{"name":"pod","uid":"uid"},"namespace":"ns","container":{"name":"containers"}}}`},
		{name: "another field", processor: "kubernetes: {field: file}",
			in:   `{"file":"/var/log/containers/p_n_c-` + id + `.log"}`,
			want: `{"file":"/var/log/containers/p_n_c-` + id + `.log","kubernetes":{"pod":{"name":"p"},"namespace":"n","container":{"name":"c"}},"container":{"id":"` + id + `"}}`},
		{name: "mismatch ignored", processor: "kubernetes: {ignore_failure: true}",
			in: withPath("/var/log/syslog"), want: withPath("/var/log/syslog")},

		{name: "not a container log", in: withPath("/var/log/nginx/access.log"),
			wantErr: `path "/var/log/nginx/access.log" is neither /var/log/containers/<pod>_<namespace>_<container>-<id>.log nor /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log`},
		{name: "a short id", in: withPath("/var/log/containers/p_n_c-abc.log"),
			wantErr: `path "/var/log/containers/p_n_c-abc.log" is neither /var/log/containers/<pod>_<namespace>_<container>-<id>.log nor /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log`},
		{name: "no container name", in: withPath("/var/log/containers/p_n_-" + id + ".log"),
			wantErr: `path "/var/log/containers/p_n_-` + id + `.log" is neither /var/log/containers/<pod>_<namespace>_<container>-<id>.log nor /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log`},
		{name: "two parts", in: withPath("/var/log/pods/ns_pod/c/0.log"),
			wantErr: `path "/var/log/pods/ns_pod/c/0.log" is neither /var/log/containers/<pod>_<namespace>_<container>-<id>.log nor /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log`},
		{name: "not a number", in: withPath("/var/log/pods/ns_pod_uid/c/current.log"),
			wantErr: `path "/var/log/pods/ns_pod_uid/c/current.log" is neither /var/log/containers/<pod>_<namespace>_<container>-<id>.log nor /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log`},
		{name: "no path", line: "x", wantErr: "field log.file.path not found"},
	})
}

func TestKubernetesConfig(t *testing.T) {
	presetConfigErrors(t, map[string]string{"kubernetes: {ignore_missing: true}": "field ignore_missing not found"})
}

func BenchmarkKubernetes(b *testing.B) {
	proc := newPreset(b, "kubernetes", "{}")
	path := "/var/log/containers/web-7d4b9c8f5-x2x9q_shop_nginx-" + strings.Repeat("0123456789abcdef", 4) + ".log"
	b.ReportAllocs()
	for b.Loop() {
		e := NewEvent(map[string]any{"message": "x", "log": map[string]any{"file": map[string]any{"path": path}}})
		if err := proc.Process(e); err != nil {
			b.Fatal(err)
		}
	}
}
