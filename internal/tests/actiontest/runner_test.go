package actiontest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// action is an action.yml, as much of it as a composite action uses.
type action struct {
	Inputs map[string]struct {
		Required bool   `json:"required"`
		Default  string `json:"default"`
	} `json:"inputs"`
	Outputs map[string]struct {
		Value string `json:"value"`
	} `json:"outputs"`
	Runs struct {
		Using string `json:"using"`
		Steps []struct {
			ID    string            `json:"id"`
			Shell string            `json:"shell"`
			Env   map[string]string `json:"env"`
			Run   string            `json:"run"`
		} `json:"steps"`
	} `json:"runs"`
}

// job is the environment of one job's steps: the run's variables and the
// files the runner hands values on through.
type job struct {
	t    *testing.T
	vars map[string]string
	// env is $GITHUB_ENV, which later steps read.
	env string
}

// result is how one use of an action ended.
type result struct {
	err            error
	stdout, stderr string
	outputs        map[string]string
}

var exprRE = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// use runs the composite action in dir with the given inputs, as a runner
// does: inputs get their defaults, each step runs with `bash --noprofile
// --norc -eo pipefail` and its own $GITHUB_OUTPUT, and the action's
// outputs are evaluated from its steps' outputs.
func (j *job) use(dir string, inputs map[string]string) result {
	j.t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "action.yml"))
	if err != nil {
		j.t.Fatal(err)
	}
	var a action
	if err := yaml.Unmarshal(raw, &a); err != nil {
		j.t.Fatalf("%s/action.yml: %v", dir, err)
	}
	if a.Runs.Using != "composite" {
		j.t.Fatalf("%s is a %q action, not composite", dir, a.Runs.Using)
	}
	in := map[string]string{}
	for name, spec := range a.Inputs {
		in[name] = spec.Default
		if v, ok := inputs[name]; ok {
			in[name] = v
		} else if spec.Required {
			j.t.Fatalf("input %s is required", name)
		}
	}
	for name := range inputs {
		if _, ok := a.Inputs[name]; !ok {
			j.t.Fatalf("%s has no input %q", dir, name)
		}
	}
	steps := map[string]map[string]string{}
	eval := func(s string) string {
		return exprRE.ReplaceAllStringFunc(s, func(m string) string {
			e := exprRE.FindStringSubmatch(m)[1]
			parts := strings.Split(e, ".")
			switch {
			case len(parts) == 2 && parts[0] == "inputs":
				v, ok := in[parts[1]]
				if !ok {
					j.t.Fatalf("%s: expression %q names no input", dir, e)
				}
				return v
			case len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs":
				return steps[parts[1]][parts[3]]
			}
			j.t.Fatalf("%s: the test's runner cannot evaluate %q", dir, e)
			return ""
		})
	}
	var res result
	var stdout, stderr bytes.Buffer
	for i, st := range a.Runs.Steps {
		if st.Shell != "bash" {
			j.t.Fatalf("step %d runs with %q; the test runs bash only", i, st.Shell)
		}
		out := filepath.Join(j.t.TempDir(), "output")
		if err := os.WriteFile(out, nil, 0o600); err != nil {
			j.t.Fatal(err)
		}
		script := filepath.Join(j.t.TempDir(), "step.sh")
		if err := os.WriteFile(script, []byte(eval(st.Run)), 0o700); err != nil {
			j.t.Fatal(err)
		}
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		abs, _ := filepath.Abs(dir)
		cmd.Env = []string{"GITHUB_ACTION_PATH=" + abs, "GITHUB_OUTPUT=" + out, "GITHUB_ENV=" + j.env}
		for k, v := range j.vars {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		for k, v := range st.Env {
			cmd.Env = append(cmd.Env, k+"="+eval(v))
		}
		sort.Strings(cmd.Env)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		res.err = cmd.Run()
		if st.ID != "" {
			steps[st.ID] = readGitHubFile(j.t, out)
		}
		if res.err != nil {
			break
		}
	}
	res.stdout, res.stderr = stdout.String(), stderr.String()
	res.outputs = map[string]string{}
	for name, o := range a.Outputs {
		res.outputs[name] = eval(o.Value)
	}
	return res
}

// readGitHubFile parses the NAME<<DELIM records the CLI writes (and plain
// NAME=value lines); a later record of a name replaces an earlier one.
func readGitHubFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	if len(b) == 0 {
		return out
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		if name, delim, ok := strings.Cut(lines[i], "<<"); ok {
			var value []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				value = append(value, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("%s: record %s has no closing delimiter", path, name)
			}
			out[name] = strings.Join(value, "\n")
			continue
		}
		name, value, ok := strings.Cut(lines[i], "=")
		if !ok {
			t.Fatalf("%s line %d is neither NAME<<DELIM nor NAME=value", path, i+1)
		}
		out[name] = value
	}
	return out
}

func (r result) String() string {
	return fmt.Sprintf("err %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
}
