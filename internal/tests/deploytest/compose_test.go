package deploytest

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const composeFile = repoRoot + "/docker-compose.yml"

type composeService struct {
	Command     []string `json:"command"`
	Restart     string   `json:"restart"`
	Healthcheck *struct {
		Test    []string `json:"test"`
		Retries int      `json:"retries"`
	} `json:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
}

func readCompose(t *testing.T) map[string]composeService {
	t.Helper()
	b, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]composeService `json:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return f.Services
}

// boundedRestart is a restart policy that retries a failed one-shot job a
// limited number of times; unlimited retries would keep `docker compose
// up` waiting on a job that can never succeed.
var boundedRestart = regexp.MustCompile(`^on-failure:([0-9]+)$`)

// TestComposeStartupCannotStall checks the order docker-compose.yml starts
// things in: every wait ends, in success or in a visible failure.
func TestComposeStartupCannotStall(t *testing.T) {
	t.Parallel()
	svcs := readCompose(t)

	pg, ok := svcs["postgres"]
	if !ok || pg.Healthcheck == nil || len(pg.Healthcheck.Test) != 2 || pg.Healthcheck.Test[0] != "CMD-SHELL" {
		t.Fatalf("postgres healthcheck %+v, want a CMD-SHELL pg_isready", pg.Healthcheck)
	}
	// Only the real server listens on TCP; the image's initialisation
	// server is on the Unix socket.
	args := strings.Fields(pg.Healthcheck.Test[1])
	if i := slices.Index(args, "-h"); len(args) == 0 || args[0] != "pg_isready" || i < 0 || i+1 >= len(args) || args[i+1] != "127.0.0.1" {
		t.Errorf("postgres healthcheck %q, want pg_isready -h 127.0.0.1", pg.Healthcheck.Test[1])
	}

	for name, s := range svcs {
		for dep, d := range s.DependsOn {
			target, ok := svcs[dep]
			if !ok {
				t.Errorf("%s depends on %s, which does not exist", name, dep)
				continue
			}
			switch d.Condition {
			case "service_healthy":
				if target.Healthcheck == nil || target.Healthcheck.Retries <= 0 {
					t.Errorf("%s waits for %s to be healthy, but its healthcheck has no bounded retries", name, dep)
				}
			case "service_completed_successfully":
				var n int
				if m := boundedRestart.FindStringSubmatch(target.Restart); m != nil {
					n, _ = strconv.Atoi(m[1])
				}
				if n <= 0 {
					t.Errorf("%s waits for %s to complete; its restart %q must be on-failure:N, N > 0, so that a failure is retried and a lasting one ends the wait", name, dep, target.Restart)
				}
			default:
				// service_started would let the broker race its database.
				t.Errorf("%s depends on %s with condition %q; want service_healthy or service_completed_successfully", name, dep, d.Condition)
			}
		}
	}
	if cycle := dependencyCycle(svcs); cycle != nil {
		t.Errorf("depends_on cycle: %v", cycle)
	}

	byCommand := map[string]string{}
	for name, s := range svcs {
		if len(s.Command) > 0 {
			byCommand[s.Command[0]] = name
		}
	}
	migrate, serve := byCommand["migrate"], byCommand["serve"]
	if migrate == "" || serve == "" {
		t.Fatalf("services by command %v: want a migrate and a serve", byCommand)
	}
	if c := svcs[migrate].DependsOn["postgres"].Condition; c != "service_healthy" {
		t.Errorf("%s waits for postgres with %q, want service_healthy", migrate, c)
	}
	want := map[string]string{migrate: "service_completed_successfully", "postgres": "service_healthy", "emulator": "service_healthy"}
	for dep, cond := range want {
		if c := svcs[serve].DependsOn[dep].Condition; c != cond {
			t.Errorf("%s waits for %s with %q, want %s", serve, dep, c, cond)
		}
	}
}

// dependencyCycle returns a cycle in depends_on, or nil.
func dependencyCycle(svcs map[string]composeService) []string {
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(string) []string
	visit = func(n string) []string {
		switch state[n] {
		case active:
			return append(slices.Clone(path), n)
		case done:
			return nil
		}
		state[n] = active
		path = append(path, n)
		for dep := range svcs[n].DependsOn {
			if c := visit(dep); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for n := range svcs {
		if c := visit(n); c != nil {
			return c
		}
	}
	return nil
}

// TestComposeConfig validates docker-compose.yml with docker-compose
// itself (Debian's docker-compose package; no Docker engine needed),
// given the two secrets it requires; without them it must refuse, naming
// each and how to make it.
func TestComposeConfig(t *testing.T) {
	t.Parallel()
	bin := tool(t, "DOCKER_COMPOSE", "docker-compose", "Debian: apt-get install --no-install-recommends docker-compose, or source scripts/deploytools.sh and run compose_ensure")
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BROKER_SEAL_KEY=") && !strings.HasPrefix(kv, "BROKER_CI_API_KEY=") {
			base = append(base, kv)
		}
	}
	compose := func(env []string) (string, error) {
		cmd := exec.Command(bin, "-f", "docker-compose.yml", "config", "-q")
		cmd.Dir, cmd.Env = repoRoot, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := compose(append(slices.Clone(base),
		"BROKER_SEAL_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "BROKER_CI_API_KEY="+strings.Repeat("k", 64))); err != nil {
		t.Errorf("docker-compose config with the secrets set: %v\n%s", err, out)
	}
	for _, missing := range []string{"BROKER_SEAL_KEY", "BROKER_CI_API_KEY"} {
		env := slices.Clone(base)
		if missing != "BROKER_SEAL_KEY" {
			env = append(env, "BROKER_SEAL_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
		}
		if missing != "BROKER_CI_API_KEY" {
			env = append(env, "BROKER_CI_API_KEY="+strings.Repeat("k", 64))
		}
		out, err := compose(env)
		if err == nil || !strings.Contains(out, "set "+missing+", in .env or the environment") {
			t.Errorf("docker-compose config without %s: %v, %q; want a refusal saying how to set it", missing, err, out)
		}
	}
}
