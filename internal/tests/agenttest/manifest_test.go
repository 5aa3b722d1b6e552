package agenttest

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ztbroker/ztbroker/internal/cli/clientcmd"
)

// TestKubernetesExampleUsesTheAgentsFlags reads the sidecar example in
// deploy/kubernetes and checks that the agent it runs would accept every
// flag it is given, so the example cannot drift from the command.
func TestKubernetesExampleUsesTheAgentsFlags(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../../deploy/kubernetes/agent-sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var d struct {
			Kind string
			Spec struct {
				Template struct {
					Spec struct {
						InitContainers []struct {
							Name          string
							Args          []string
							RestartPolicy string `json:"restartPolicy"`
						} `json:"initContainers"`
					}
				}
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatalf("the example is not valid YAML: %v", err)
		}
		for _, c := range d.Spec.Template.Spec.InitContainers {
			if c.Name == "ztbroker-agent" {
				args = c.Args
				if c.RestartPolicy != "Always" {
					t.Errorf("the agent is not a native sidecar (restartPolicy %q)", c.RestartPolicy)
				}
			}
		}
	}
	if len(args) < 2 || args[0] != "agent" {
		t.Fatalf("no ztbroker-agent container running `agent` in the example; args %v", args)
	}
	var help bytes.Buffer
	env := clientcmd.Env{Stdout: &help, Stderr: &help, Getenv: func(string) string { return "" }}
	if code := clientcmd.Agent(context.Background(), []string{"--help"}, env); code != 0 {
		t.Fatalf("agent --help exited %d: %s", code, help.String())
	}
	for _, a := range args[1:] {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !strings.Contains(help.String(), " --"+name+" ") {
			t.Errorf("the example passes %q, which agent does not take", a)
		}
	}
}
