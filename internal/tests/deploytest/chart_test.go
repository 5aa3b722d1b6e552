package deploytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/server"
)

// variant is one way of installing the chart.
type variant struct {
	name       string
	files      []string
	values     map[string]any
	replicas   int
	monitoring bool // ServiceMonitor, PrometheusRule and dashboard ConfigMap
}

func variants() []variant {
	return []variant{
		{name: "defaults", replicas: 2},
		{name: "production", files: []string{prodValues}, replicas: 3, monitoring: true},
		{name: "chart-made Secret and one replica", replicas: 1, values: map[string]any{
			"replicaCount": 1,
			"secrets": map[string]any{
				"create": true,
				"values": map[string]any{
					"database-url":       fakeSecret("database-url"),
					"ci-api-key":         fakeSecret("ci-api-key"),
					"zerotier-admin-key": fakeSecret("zerotier-admin-key"),
					"seal-key":           fakeSecret("seal-key"),
				},
			},
		}},
	}
}

// TestChart renders each variant once and checks the objects a cluster
// would get.
func TestChart(t *testing.T) {
	t.Parallel()
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			files := v.files
			if v.values != nil {
				files = append(slices.Clone(files), valuesFile(t, v.values))
			}
			objs, err := render(t, files...)
			if err != nil {
				t.Fatal(err)
			}
			dep := objs.one(t, "Deployment")
			spec := decodeSpec[deploymentSpec](t, dep)
			pod := spec.Template.Spec
			broker := containerNamed(t, pod.Containers, "broker")

			t.Run("replicas and disruption budget", func(t *testing.T) { checkReplicas(t, objs, spec, v.replicas) })
			t.Run("security context", func(t *testing.T) { checkSecurity(t, pod) })
			t.Run("probes", func(t *testing.T) { checkProbes(t, broker, scheme(t, objs)) })
			t.Run("migration before the broker", func(t *testing.T) { checkMigrationFirst(t, pod, broker) })
			t.Run("services", func(t *testing.T) { checkServices(t, objs, spec, broker) })
			t.Run("configuration loads", func(t *testing.T) {
				for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
					checkConfigLoads(t, objs, pod, c)
				}
			})
			t.Run("no secret in a ConfigMap", func(t *testing.T) { checkNoSecretsInConfigMaps(t, objs, pod) })
			t.Run("monitoring objects", func(t *testing.T) { checkMonitoring(t, objs, v.monitoring, scheme(t, objs)) })
		})
	}
}

func containerNamed(t *testing.T, cs []container, name string) container {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container named %q", name)
	return container{}
}

func checkReplicas(t *testing.T, objs rendered, spec deploymentSpec, want int) {
	if spec.Replicas == nil || *spec.Replicas != want {
		t.Errorf("Deployment replicas = %v, want %d", spec.Replicas, want)
	}
	if !subset(spec.Selector.MatchLabels, spec.Template.Metadata.Labels) {
		t.Errorf("Deployment selector %v does not select its own pods %v", spec.Selector.MatchLabels, spec.Template.Metadata.Labels)
	}
	pdbs := objs.ofKind("PodDisruptionBudget")
	if want == 1 {
		// A budget that allows no disruption of the only pod blocks
		// every node drain.
		if len(pdbs) != 0 {
			t.Errorf("one replica: %d PodDisruptionBudgets rendered, want none", len(pdbs))
		}
		return
	}
	if len(pdbs) != 1 {
		t.Fatalf("%d replicas: %d PodDisruptionBudgets rendered, want 1", want, len(pdbs))
	}
	pdb := decodeSpec[pdbSpec](t, pdbs[0])
	if !subset(pdb.Selector.MatchLabels, spec.Template.Metadata.Labels) || len(pdb.Selector.MatchLabels) == 0 {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods %v", pdb.Selector.MatchLabels, spec.Template.Metadata.Labels)
	}
	if pdb.MaxUnavailable == nil && pdb.MinAvailable == nil {
		t.Error("PodDisruptionBudget sets neither maxUnavailable nor minAvailable")
	}
}

func checkSecurity(t *testing.T, pod podSpec) {
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("pods mount a service-account token; the broker never calls the Kubernetes API")
	}
	ps := pod.SecurityContext
	if ps == nil {
		ps = &securityContext{}
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("container %s has no securityContext", c.Name)
			continue
		}
		// A container's setting wins over the pod's where both exist.
		nonRoot := firstSet(sc.RunAsNonRoot, ps.RunAsNonRoot)
		if nonRoot == nil || !*nonRoot {
			t.Errorf("container %s: runAsNonRoot is not true", c.Name)
		}
		if uid := firstSet(sc.RunAsUser, ps.RunAsUser); uid != nil && *uid == 0 {
			t.Errorf("container %s runs as uid 0", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s is privileged", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("container %s: capabilities %+v, want drop [ALL] and nothing added", c.Name, sc.Capabilities)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = ps.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != "RuntimeDefault" {
			t.Errorf("container %s: seccomp profile %+v, want RuntimeDefault", c.Name, seccomp)
		}
	}
}

func firstSet[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// scheme is HTTPS when the rendered configuration serves TLS.
func scheme(t *testing.T, objs rendered) string {
	t.Helper()
	var cfg struct {
		Listen struct {
			TLS any `json:"tls"`
		} `json:"listen"`
	}
	if err := yaml.Unmarshal([]byte(objs.named(t, "ConfigMap", releaseName).Data["broker.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen.TLS != nil {
		return "HTTPS"
	}
	return "HTTP"
}

func checkProbes(t *testing.T, broker container, scheme string) {
	probes := []struct {
		name string
		p    *probe
		path string
	}{
		{"startup", broker.StartupProbe, "/healthz"},
		// Liveness must not follow the database: an outage would restart
		// every replica at once.
		{"liveness", broker.LivenessProbe, "/healthz"},
		{"readiness", broker.ReadinessProbe, "/readyz"},
	}
	for _, pr := range probes {
		if pr.p == nil || pr.p.HTTPGet == nil {
			t.Errorf("broker %s probe: %+v, want an HTTP GET of %s", pr.name, pr.p, pr.path)
			continue
		}
		g := pr.p.HTTPGet
		if g.Path != pr.path {
			t.Errorf("broker %s probe asks %s, want %s", pr.name, g.Path, pr.path)
		}
		if g.Scheme != scheme {
			t.Errorf("broker %s probe scheme %q, want %s", pr.name, g.Scheme, scheme)
		}
		if port := containerPort(broker, g.Port); port == 0 || port != namedPort(broker, "http") {
			t.Errorf("broker %s probe port %v is not the HTTP port %d", pr.name, g.Port, namedPort(broker, "http"))
		}
	}
}

// containerPort resolves a probe's or Service's port, a name or a number,
// against the container's ports.
func containerPort(c container, port any) int {
	switch p := port.(type) {
	case string:
		return namedPort(c, p)
	case float64:
		for _, cp := range c.Ports {
			if cp.ContainerPort == int(p) {
				return cp.ContainerPort
			}
		}
	}
	return 0
}

func namedPort(c container, name string) int {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

func checkMigrationFirst(t *testing.T, pod podSpec, broker container) {
	if len(pod.InitContainers) == 0 {
		t.Fatal("no init container: nothing migrates the database before the broker starts")
	}
	// Init containers run one after another, each to completion, before
	// any container starts; one with restartPolicy Always would be a
	// sidecar that does not block the broker.
	m := pod.InitContainers[len(pod.InitContainers)-1]
	if len(m.Args) == 0 || m.Args[0] != "migrate" {
		t.Errorf("last init container %s runs %q, want broker migrate", m.Name, m.Args)
	}
	if m.RestartPolicy != "" {
		t.Errorf("init container %s has restartPolicy %s: a native sidecar does not run before the broker", m.Name, m.RestartPolicy)
	}
	if m.Image != broker.Image {
		t.Errorf("migration image %s differs from the broker's %s", m.Image, broker.Image)
	}
	if len(broker.Args) == 0 || broker.Args[0] != "serve" {
		t.Errorf("broker container runs %q, want serve", broker.Args)
	}
	if configPath(t, m) != configPath(t, broker) {
		t.Errorf("migration reads %s, the broker %s", configPath(t, m), configPath(t, broker))
	}
}

func checkServices(t *testing.T, objs rendered, spec deploymentSpec, broker container) {
	want := map[string]string{releaseName: "grpc", releaseName + "-http": "http"}
	for name, port := range want {
		svc := decodeSpec[serviceSpec](t, objs.named(t, "Service", name))
		if len(svc.Selector) == 0 || !subset(svc.Selector, spec.Template.Metadata.Labels) {
			t.Errorf("Service %s selector %v does not select the pods %v", name, svc.Selector, spec.Template.Metadata.Labels)
		}
		if len(svc.Ports) != 1 || containerPort(broker, svc.Ports[0].TargetPort) != namedPort(broker, port) || namedPort(broker, port) == 0 {
			t.Errorf("Service %s ports %+v, want one targeting the broker's %s port", name, svc.Ports, port)
		}
	}
}

// checkConfigLoads loads the configuration the way container c would:
// its --config path read through its mounts, every *_env from its
// environment and every *_file through its Secret volumes, judged by the
// broker's own loader with the domain checks of serve. It also loads it
// with SkipSecrets, as `broker policy test` would.
func checkConfigLoads(t *testing.T, objs rendered, pod podSpec, c container) {
	view := newPodView(t, objs, pod, c)
	path := configPath(t, c)
	cfg, err := server.LoadConfig(path, config.Options{LookupEnv: view.lookupEnv, ReadFile: view.readFile})
	if err != nil {
		t.Fatalf("container %s: the broker would refuse its configuration:\n%v", c.Name, err)
	}
	data, err := view.readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.ParseConfig(path, data, config.Options{SkipSecrets: true}); err != nil {
		t.Errorf("container %s: configuration refused with SkipSecrets:\n%v", c.Name, err)
	}
	// Every file the configuration names is mounted: secrets, and the
	// certificates and CAs the loader does not read.
	var tree any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		t.Fatal(err)
	}
	for key, file := range fileKeys(tree, "") {
		if err := view.mounted(file); err != nil {
			t.Errorf("container %s: %s: %v", c.Name, key, err)
		}
	}
	if c.Name != "broker" {
		return
	}
	listeners := []struct{ addr, port string }{{cfg.Listen.GRPCAddr, "grpc"}, {cfg.Listen.HTTPAddr, "http"}}
	for _, l := range listeners {
		host, port, err := net.SplitHostPort(l.addr)
		if err != nil {
			t.Errorf("listen address %q: %v", l.addr, err)
			continue
		}
		if host != "" && host != "0.0.0.0" && host != "::" {
			t.Errorf("listen address %q is not reachable from other pods", l.addr)
		}
		if n, _ := strconv.Atoi(port); n != namedPort(c, l.port) {
			t.Errorf("the broker listens on %s, but the container's %s port is %d", l.addr, l.port, namedPort(c, l.port))
		}
	}
}

// secretKey is a configuration key that would hold a secret if it held a
// value; the broker's secrets are named by *_env and *_file keys instead.
var secretKey = regexp.MustCompile(`(?i)(secret|passw|token|key|credential|private)`)

// notSecretKeys match secretKey but hold no secret: sections, lists, the
// upstream path templates and API-key hashes (the broker keeps only
// those).
var notSecretKeys = map[string]bool{"api_keys": true, "tokens": true, "create_key": true, "delete_key": true}

func checkNoSecretsInConfigMaps(t *testing.T, objs rendered, pod podSpec) {
	var secrets []string
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		secrets = append(secrets, newPodView(t, objs, pod, c).secretValues()...)
		for _, e := range c.Env {
			if e.ValueFrom == nil && secretKey.MatchString(e.Name) {
				t.Errorf("container %s: %s is a literal value in the pod spec; take it from a Secret", c.Name, e.Name)
			}
		}
	}
	if len(secrets) == 0 {
		t.Fatal("the pods see no secret at all; the check below would prove nothing")
	}
	cms := objs.ofKind("ConfigMap")
	if len(cms) == 0 {
		t.Fatal("no ConfigMap rendered")
	}
	for _, cm := range cms {
		for key, data := range cm.Data {
			for _, s := range secrets {
				if strings.Contains(data, s) {
					t.Errorf("ConfigMap %s key %s holds a secret value", cm.Metadata.Name, key)
				}
			}
			if key != "broker.yaml" {
				continue
			}
			var tree any
			if err := yaml.Unmarshal([]byte(data), &tree); err != nil {
				t.Fatalf("ConfigMap %s: %v", cm.Metadata.Name, err)
			}
			for _, k := range keys(tree, "") {
				last := k[strings.LastIndexAny(k, ".]")+1:]
				if secretKey.MatchString(last) && !notSecretKeys[last] &&
					!strings.HasSuffix(last, "_env") && !strings.HasSuffix(last, "_file") {
					t.Errorf("ConfigMap %s: configuration key %s looks like a secret; name it with %s_env or %s_file", cm.Metadata.Name, k, last, last)
				}
			}
		}
	}
	for _, s := range objs.ofKind("Secret") {
		if len(s.Data) == 0 && len(s.StringData) == 0 {
			t.Errorf("Secret %s is empty", s.Metadata.Name)
		}
	}
	// Nor anywhere else outside a Secret: not in the pod spec, not in an
	// annotation, not as a hash.
	for _, o := range objs {
		if o.Kind == "Secret" {
			continue
		}
		for _, s := range secrets {
			sum := sha256.Sum256([]byte(s))
			if strings.Contains(o.raw, s) || strings.Contains(o.raw, hex.EncodeToString(sum[:])) {
				t.Errorf("%s %s holds a secret value or its SHA-256", o.Kind, o.Metadata.Name)
			}
		}
	}
}

// fileKeys returns the configuration's *_file keys that hold a path.
func fileKeys(tree any, prefix string) map[string]string {
	out := map[string]string{}
	switch v := tree.(type) {
	case map[string]any:
		for k, child := range v {
			p := strings.TrimPrefix(prefix+"."+k, ".")
			if s, ok := child.(string); ok && strings.HasSuffix(k, "_file") && s != "" {
				out[p] = s
			}
			maps.Copy(out, fileKeys(child, p))
		}
	case []any:
		for i, child := range v {
			maps.Copy(out, fileKeys(child, fmt.Sprintf("%s[%d]", prefix, i)))
		}
	}
	return out
}

// keys lists the dotted paths of every mapping key in a YAML tree.
func keys(tree any, prefix string) []string {
	var out []string
	switch v := tree.(type) {
	case map[string]any:
		for k, child := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = append(out, p)
			out = append(out, keys(child, p)...)
		}
	case []any:
		for i, child := range v {
			out = append(out, keys(child, fmt.Sprintf("%s[%d]", prefix, i))...)
		}
	}
	return out
}

func checkMonitoring(t *testing.T, objs rendered, want bool, scheme string) {
	sms, rules := objs.ofKind("ServiceMonitor"), objs.ofKind("PrometheusRule")
	var dashboards []object
	for _, cm := range objs.ofKind("ConfigMap") {
		if _, ok := cm.Data["ztbroker.json"]; ok {
			dashboards = append(dashboards, cm)
		}
	}
	if !want {
		if len(sms)+len(rules)+len(dashboards) != 0 {
			t.Errorf("monitoring off: %d ServiceMonitors, %d PrometheusRules, %d dashboards rendered", len(sms), len(rules), len(dashboards))
		}
		return
	}
	if len(sms) != 1 || len(rules) != 1 || len(dashboards) != 1 {
		t.Fatalf("monitoring on: %d ServiceMonitors, %d PrometheusRules, %d dashboards rendered, want one each", len(sms), len(rules), len(dashboards))
	}

	sm := decodeSpec[serviceMonitorSpec](t, sms[0])
	httpSvc := objs.named(t, "Service", releaseName+"-http")
	grpcSvc := objs.named(t, "Service", releaseName)
	if !subset(sm.Selector.MatchLabels, httpSvc.Metadata.Labels) || subset(sm.Selector.MatchLabels, grpcSvc.Metadata.Labels) {
		t.Errorf("ServiceMonitor selects %v: want the HTTP Service %v only", sm.Selector.MatchLabels, httpSvc.Metadata.Labels)
	}
	if len(sm.Endpoints) != 1 || sm.Endpoints[0].Port != "http" || sm.Endpoints[0].Path != "/metrics" ||
		!strings.EqualFold(sm.Endpoints[0].Scheme, scheme) {
		t.Errorf("ServiceMonitor endpoints %+v, want port http, path /metrics, scheme %s", sm.Endpoints, scheme)
	}
	if !slices.Equal(sm.NamespaceSelector.MatchNames, []string{releaseNS}) {
		t.Errorf("ServiceMonitor namespaces %v, want [%s]", sm.NamespaceSelector.MatchNames, releaseNS)
	}

	// The chart ships the same rules and dashboard as deploy/.
	var got, want2 any
	if err := yaml.Unmarshal(rules[0].Spec, &got); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(src, &want2); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want2, got); diff != "" {
		t.Errorf("PrometheusRule spec differs from %s (-file +rendered):\n%s", rulesFile, diff)
	}
	dash, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(dashboards[0].Data["ztbroker.json"]) != strings.TrimSpace(string(dash)) {
		t.Errorf("dashboard ConfigMap differs from %s", dashboardFile)
	}
}

func subset(small, big map[string]string) bool {
	for k, v := range small {
		if big[k] != v {
			return false
		}
	}
	return true
}

// TestChartCopiesMatchDeploy keeps the chart's copies of the rules and the
// dashboard (a chart can only read files inside itself) equal to the ones
// in deploy/, which promtool and Grafana users read.
func TestChartCopiesMatchDeploy(t *testing.T) {
	t.Parallel()
	for src, cp := range map[string]string{rulesFile: chartRulesFile, dashboardFile: chartDashboard} {
		a, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(cp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s; copy it: cp %s %s", cp, src, strings.TrimPrefix(src, repoRoot+"/"), strings.TrimPrefix(cp, repoRoot+"/"))
		}
	}
}

// TestChartRefuses checks that values which would leave the pods
// unreachable or unprobed fail at render time, with a message saying why.
func TestChartRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"listen address in config", map[string]any{"config": map[string]any{"listen": map[string]any{"grpc_addr": "127.0.0.1:9090"}}},
			"use ports.grpc and ports.http"},
		{"client certificates required", map[string]any{"config": map[string]any{"listen": map[string]any{"tls": map[string]any{
			"cert_file": "/tls/tls.crt", "key_file": "/tls/tls.key", "client_ca_file": "/tls/ca.crt", "client_auth": "require"}}}},
			"refuses the kubelet's probes"},
		{"chart-made Secret without a key the pods use", map[string]any{"secrets": map[string]any{"create": true, "values": map[string]any{
			"database-url": "postgres://x@db/x", "ci-api-key": "k", "zerotier-admin-key": "k"}}},
			`secrets.values has no "seal-key"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := render(t, valuesFile(t, tt.values))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestChartLint runs helm lint --strict with the default and the
// production values.
func TestChartLint(t *testing.T) {
	t.Parallel()
	for _, files := range [][]string{nil, {prodValues}} {
		args := []string{"lint", "--strict", "deploy/helm/ztbroker"}
		for _, f := range absPaths(t, files) {
			args = append(args, "-f", f)
		}
		if _, err := helm(t, args...); err != nil {
			t.Error(err)
		}
	}
}
