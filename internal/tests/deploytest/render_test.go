package deploytest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../../.."

const (
	chartDir       = repoRoot + "/deploy/helm/ztbroker"
	prodValues     = repoRoot + "/deploy/helm/values-production.yaml"
	releaseName    = "ztbroker"
	releaseNS      = "ztbroker"
	rulesFile      = repoRoot + "/deploy/prometheus/ztbroker.rules.yaml"
	rulesTestFile  = repoRoot + "/deploy/prometheus/ztbroker.rules.test.yaml"
	dashboardFile  = repoRoot + "/deploy/grafana/ztbroker.json"
	chartRulesFile = chartDir + "/files/ztbroker.rules.yaml"
	chartDashboard = chartDir + "/files/ztbroker.json"
)

// helm runs helm built from tools/helm/go.mod. `go tool` caches the
// linked binary, so only the first run after that module changes
// compiles it (scripts/test.sh does that first run before the tests).
func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"tool", "-modfile=tools/helm/go.mod", "helm"}, args...)...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &toolError{cmd: "helm " + strings.Join(args, " "), err: err, stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

type toolError struct {
	cmd, stderr string
	err         error
}

func (e *toolError) Error() string { return e.cmd + ": " + e.err.Error() + "\n" + e.stderr }

// valuesFile writes values (JSON is YAML) for helm's -f, which splits
// its argument at commas: the file must not be under a test's TempDir,
// named after the test.
func valuesFile(t *testing.T, values map[string]any) string {
	t.Helper()
	b, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "deploytest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, "values.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// absPaths makes value file paths absolute, since helm runs in the
// repository root.
func absPaths(t *testing.T, files []string) []string {
	t.Helper()
	out := make([]string, len(files))
	for i, f := range files {
		a, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = a
	}
	return out
}

// render runs helm template with the given values files.
func render(t *testing.T, files ...string) (rendered, error) {
	t.Helper()
	args := []string{"template", releaseName, "deploy/helm/ztbroker", "--namespace", releaseNS}
	for _, f := range absPaths(t, files) {
		args = append(args, "-f", f)
	}
	out, err := helm(t, args...)
	if err != nil {
		return nil, err
	}
	return parseManifests(t, out), nil
}

// object is the part of a Kubernetes object the tests read; Spec is
// decoded by kind.
type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Data       map[string]string `json:"data"`
	StringData map[string]string `json:"stringData"`
	Spec       json.RawMessage   `json:"spec"`

	raw string // the rendered document
}

type rendered []object

func parseManifests(t *testing.T, out []byte) rendered {
	t.Helper()
	var objs rendered
	// helm separates documents with a line "---"; the block scalars it
	// writes (the configuration, the dashboard) are indented, so none of
	// their lines is one.
	for doc := range strings.SplitSeq(string(out), "\n---\n") {
		doc = strings.TrimPrefix(doc, "---\n")
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("rendered document does not parse: %v\n%s", err, doc)
		}
		o.raw = doc
		objs = append(objs, o)
	}
	return objs
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func (r rendered) ofKind(kind string) []object {
	var out []object
	for _, o := range r {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// one returns the only object of kind, failing otherwise.
func (r rendered) one(t *testing.T, kind string) object {
	t.Helper()
	objs := r.ofKind(kind)
	if len(objs) != 1 {
		t.Fatalf("rendered %d objects of kind %s, want 1", len(objs), kind)
	}
	return objs[0]
}

func (r rendered) named(t *testing.T, kind, name string) object {
	t.Helper()
	for _, o := range r.ofKind(kind) {
		if o.Metadata.Name == name {
			return o
		}
	}
	t.Fatalf("no %s named %q rendered", kind, name)
	return object{}
}

func decodeSpec[T any](t *testing.T, o object) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(o.Spec, &v); err != nil {
		t.Fatalf("%s %s: spec: %v", o.Kind, o.Metadata.Name, err)
	}
	return v
}

// The slices of the Kubernetes API the tests look at.

type deploymentSpec struct {
	Replicas *int `json:"replicas"`
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	Template struct {
		Metadata struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec podSpec `json:"spec"`
	} `json:"template"`
}

type podSpec struct {
	ServiceAccountName           string           `json:"serviceAccountName"`
	AutomountServiceAccountToken *bool            `json:"automountServiceAccountToken"`
	SecurityContext              *securityContext `json:"securityContext"`
	InitContainers               []container      `json:"initContainers"`
	Containers                   []container      `json:"containers"`
	Volumes                      []volume         `json:"volumes"`
}

type container struct {
	Name          string `json:"name"`
	Image         string `json:"image"`
	Command       []string
	Args          []string `json:"args"`
	RestartPolicy string   `json:"restartPolicy"`
	Ports         []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	Env             []envVar          `json:"env"`
	EnvFrom         []json.RawMessage `json:"envFrom"`
	VolumeMounts    []volumeMount     `json:"volumeMounts"`
	StartupProbe    *probe            `json:"startupProbe"`
	LivenessProbe   *probe            `json:"livenessProbe"`
	ReadinessProbe  *probe            `json:"readinessProbe"`
	SecurityContext *securityContext  `json:"securityContext"`
}

type envVar struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	ValueFrom *struct {
		SecretKeyRef    *keyRef         `json:"secretKeyRef"`
		ConfigMapKeyRef *keyRef         `json:"configMapKeyRef"`
		FieldRef        json.RawMessage `json:"fieldRef"`
	} `json:"valueFrom"`
}

type keyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type volumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	SubPath   string `json:"subPath"`
	ReadOnly  bool   `json:"readOnly"`
}

type volume struct {
	Name      string `json:"name"`
	ConfigMap *struct {
		Name  string      `json:"name"`
		Items []keyToPath `json:"items"`
	} `json:"configMap"`
	Secret *struct {
		SecretName  string      `json:"secretName"`
		Items       []keyToPath `json:"items"`
		DefaultMode *int        `json:"defaultMode"`
	} `json:"secret"`
}

type keyToPath struct {
	Key  string `json:"key"`
	Path string `json:"path"`
}

type probe struct {
	HTTPGet *struct {
		Path   string `json:"path"`
		Port   any    `json:"port"`
		Scheme string `json:"scheme"`
	} `json:"httpGet"`
	Exec      json.RawMessage `json:"exec"`
	TCPSocket json.RawMessage `json:"tcpSocket"`
	GRPC      json.RawMessage `json:"grpc"`
}

type securityContext struct {
	RunAsNonRoot             *bool  `json:"runAsNonRoot"`
	RunAsUser                *int64 `json:"runAsUser"`
	ReadOnlyRootFilesystem   *bool  `json:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `json:"allowPrivilegeEscalation"`
	Privileged               *bool  `json:"privileged"`
	Capabilities             *struct {
		Add  []string `json:"add"`
		Drop []string `json:"drop"`
	} `json:"capabilities"`
	SeccompProfile *struct {
		Type string `json:"type"`
	} `json:"seccompProfile"`
}

type serviceSpec struct {
	Type      string            `json:"type"`
	ClusterIP string            `json:"clusterIP"`
	Selector  map[string]string `json:"selector"`
	Ports     []struct {
		Name       string `json:"name"`
		Port       int    `json:"port"`
		TargetPort any    `json:"targetPort"`
	} `json:"ports"`
}

type pdbSpec struct {
	MinAvailable   any `json:"minAvailable"`
	MaxUnavailable any `json:"maxUnavailable"`
	Selector       struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
}

type serviceMonitorSpec struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	NamespaceSelector struct {
		MatchNames []string `json:"matchNames"`
	} `json:"namespaceSelector"`
	Endpoints []struct {
		Port   string `json:"port"`
		Path   string `json:"path"`
		Scheme string `json:"scheme"`
	} `json:"endpoints"`
}
