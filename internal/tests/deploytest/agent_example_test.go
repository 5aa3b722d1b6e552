package deploytest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ztbroker/ztbroker/internal/cli/clientcmd"
)

// TestChartAgentExample renders the optional agent example with and
// without TLS: it reaches the release's gRPC Service, as a native
// sidecar, with flags that `broker agent` takes; the chart refuses it
// without a purpose and renders nothing of it by default.
func TestChartAgentExample(t *testing.T) {
	t.Parallel()
	var help bytes.Buffer
	env := clientcmd.Env{Stdout: &help, Stderr: &help, Getenv: func(string) string { return "" }}
	if code := clientcmd.Agent(context.Background(), []string{"--help"}, env); code != 0 {
		t.Fatalf("agent --help exited %d", code)
	}
	example := map[string]any{"agentExample": map[string]any{"enabled": true, "purpose": "netops", "ttl": "15m"}}
	for _, v := range []struct {
		name  string
		files []string
		tls   bool
	}{
		{name: "plaintext", files: []string{valuesFile(t, example)}},
		{name: "production TLS", files: []string{prodValues, valuesFile(t, example)}, tls: true},
	} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			objs, err := render(t, v.files...)
			if err != nil {
				t.Fatal(err)
			}
			var spec struct {
				Template struct {
					Spec struct {
						ServiceAccountName string `json:"serviceAccountName"`
						InitContainers     []struct {
							Name          string   `json:"name"`
							Args          []string `json:"args"`
							RestartPolicy string   `json:"restartPolicy"`
						} `json:"initContainers"`
					} `json:"spec"`
				} `json:"template"`
			}
			found := false
			for _, o := range objs {
				if o.Kind != "Deployment" || o.Metadata.Name != releaseName+"-agent-example" {
					continue
				}
				found = true
				if err := json.Unmarshal(o.Spec, &spec); err != nil {
					t.Fatal(err)
				}
			}
			if !found {
				t.Fatal("no agent example Deployment rendered")
			}
			ics := spec.Template.Spec.InitContainers
			if len(ics) != 1 || ics[0].Name != "ztbroker-agent" || ics[0].RestartPolicy != "Always" || ics[0].Args[0] != "agent" {
				t.Fatalf("init containers %+v, want the agent as a native sidecar", ics)
			}
			args := strings.Join(ics[0].Args, " ")
			if !strings.Contains(args, "--addr="+releaseName+"."+releaseNS+".svc:") || !strings.Contains(args, "--purpose=netops") {
				t.Errorf("agent args %q do not reach the release's gRPC Service for the purpose", args)
			}
			if strings.Contains(args, "--insecure") == v.tls {
				t.Errorf("agent args %q: --insecure must be given exactly when the broker serves plaintext", args)
			}
			for _, a := range ics[0].Args[1:] {
				name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
				if !strings.Contains(help.String(), " --"+name+" ") && !strings.Contains(help.String(), " --"+name+"\n") {
					t.Errorf("the chart passes %q, which agent does not take", a)
				}
			}
		})
	}
	t.Run("refused without a purpose", func(t *testing.T) {
		t.Parallel()
		_, err := render(t, valuesFile(t, map[string]any{"agentExample": map[string]any{"enabled": true}}))
		if err == nil || !strings.Contains(err.Error(), "agentExample.purpose is required") {
			t.Errorf("render without a purpose: %v", err)
		}
	})
	t.Run("off by default", func(t *testing.T) {
		t.Parallel()
		objs, err := render(t)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if strings.Contains(o.Metadata.Name, "agent-example") {
				t.Errorf("default values render %s %s", o.Kind, o.Metadata.Name)
			}
		}
	})
}
