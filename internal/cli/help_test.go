package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ztbroker/ztbroker/internal/cli"
	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"
)

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = cli.Main(context.Background(), args, cli.IO{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
	return code, out.String(), errOut.String()
}

// commandPaths lists every command of the tree as the words that name it,
// so that a command added later is checked without touching this test.
func commandPaths(t *testing.T) [][]string {
	t.Helper()
	var paths [][]string
	cmdtree.Walk(cli.NewRoot(cli.OS()), func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		words := strings.Fields(c.CommandPath())[1:]
		paths = append(paths, words)
	})
	if len(paths) < 20 {
		t.Fatalf("found only %d commands; is the walk broken?", len(paths))
	}
	return paths
}

func find(t *testing.T, words []string) *cobra.Command {
	t.Helper()
	c, _, err := cli.NewRoot(cli.OS()).Find(words)
	if err != nil {
		t.Fatalf("find %v: %v", words, err)
	}
	return c
}

func TestEveryCommandExplainsItself(t *testing.T) {
	t.Parallel()
	for _, words := range commandPaths(t) {
		name := strings.Join(append([]string{"broker"}, words...), " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := find(t, words)
			switch {
			case strings.TrimSpace(c.Short) == "" || strings.Contains(c.Short, "\n"):
				t.Errorf("no one-line summary (Short = %q)", c.Short)
			case strings.TrimSpace(c.Long) == "":
				t.Errorf("no description (Long)")
			case !strings.Contains(c.Example, "broker "):
				t.Errorf("no example that runs broker (Example = %q)", c.Example)
			}
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if strings.TrimSpace(f.Usage) == "" {
					t.Errorf("flag --%s has no help", f.Name)
				}
			})

			code, stdout, stderr := run(t, append(slices.Clone(words), "--help")...)
			if code != 0 {
				t.Fatalf("--help exited %d (stderr %q)", code, stderr)
			}
			if stderr != "" {
				t.Errorf("--help wrote to stderr: %q", stderr)
			}
			for _, want := range []string{"Usage: " + c.UseLine(), "Examples:", strings.TrimSpace(c.Example)} {
				if !strings.Contains(stdout, want) {
					t.Errorf("--help lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
}

// brokerVar finds the BROKER_* variables the commands' code names.
var brokerVar = regexp.MustCompile(`"(BROKER_[A-Z_]+)"`)

// TestEveryVariableIsInSomeHelp reads the command packages' source for
// the BROKER_* variables they consult and requires each in some command's
// --help, so a new variable cannot stay undocumented.
func TestEveryVariableIsInSomeHelp(t *testing.T) {
	t.Parallel()
	vars := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range brokerVar.FindAllStringSubmatch(string(src), -1) {
			vars[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"BROKER_CONFIG", "BROKER_DEV_API_KEY", "BROKER_ADDR", "BROKER_API_KEY"} {
		if !vars[must] {
			t.Fatalf("the source scan missed %s; is it broken?", must)
		}
	}
	var help strings.Builder
	for _, words := range commandPaths(t) {
		_, stdout, _ := run(t, append(slices.Clone(words), "--help")...)
		help.WriteString(stdout)
	}
	for v := range vars {
		if !strings.Contains(help.String(), v) {
			t.Errorf("%s is read by a command but no --help mentions it", v)
		}
	}
}

func TestMistakesExitTwo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args       []string
		wantStderr string
	}{
		{nil, "Usage: broker COMMAND"},
		{[]string{"frobnicate"}, `broker: unknown command "frobnicate" (see broker --help)`},
		{[]string{"serve", "--frobnicate"}, "broker: serve: unknown flag: --frobnicate (see --help)"},
		{[]string{"serve"}, "broker: serve: --config (or BROKER_CONFIG) is required"},
		{[]string{"config"}, "broker: config: missing command (see broker config --help)"},
		{[]string{"config", "nope"}, `broker: config: unknown command "nope"`},
		{[]string{"completion", "tcsh"}, `broker: completion: "tcsh" is not bash, zsh or fish`},
		{[]string{"version", "extra"}, `broker: version: unexpected argument "extra"`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.wantStderr)
			}
		})
	}
}

func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{"bash": "__start_broker", "zsh": "#compdef broker", "fish": "complete -c broker"} {
		t.Run(shell, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, "completion", shell)
			if code != 0 || !strings.Contains(stdout, want) {
				t.Errorf("exit %d, stdout lacks %q (stderr %q)", code, want, stderr)
			}
		})
	}
}

func TestVersionNamesTheModule(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := run(t, "version")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"module   github.com/ztbroker/ztbroker", "revision ", "go       go1."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("version output lacks %q:\n%s", want, stdout)
		}
	}
}
