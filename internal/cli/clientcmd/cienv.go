package clientcmd

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxKeyLen is the broker's limit on idempotency keys.
const maxKeyLen = 200

// ciRun describes the CI job the client runs in, read from the variables
// GitHub Actions and GitLab CI set for every job.
type ciRun struct {
	labels map[string]string
	// keyParts identify one step's request; empty outside CI.
	keyParts []string
}

func detectCI(getenv func(string) string) ciRun {
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		return ciRun{
			labels: nonEmpty(map[string]string{
				"ci":          "github",
				"repository":  getenv("GITHUB_REPOSITORY"),
				"run_id":      getenv("GITHUB_RUN_ID"),
				"run_attempt": getenv("GITHUB_RUN_ATTEMPT"),
				"job":         getenv("GITHUB_JOB"),
			}),
			// GITHUB_JOB is the same for every leg of a matrix; the
			// runner running this leg tells concurrent legs apart, and
			// GITHUB_ACTION names the step, so two steps of one job
			// asking for the same purpose get two leases.
			keyParts: []string{"gha", getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"),
				getenv("GITHUB_RUN_ATTEMPT"), getenv("GITHUB_JOB"), getenv("RUNNER_NAME"), getenv("GITHUB_ACTION")},
		}
	case getenv("GITLAB_CI") == "true":
		return ciRun{
			labels: nonEmpty(map[string]string{
				"ci":      "gitlab",
				"project": getenv("CI_PROJECT_PATH"),
				"run_id":  getenv("CI_PIPELINE_ID"),
				"job":     getenv("CI_JOB_ID"),
			}),
			keyParts: []string{"gitlab", getenv("CI_PROJECT_ID"), getenv("CI_PIPELINE_ID"), getenv("CI_JOB_ID")},
		}
	}
	return ciRun{}
}

// withLabels returns the CI labels overlaid with the user's, which win.
func (r ciRun) withLabels(user map[string]string) map[string]string {
	out := make(map[string]string, len(r.labels)+len(user))
	for k, v := range r.labels {
		out[k] = v
	}
	for k, v := range user {
		out[k] = v
	}
	return out
}

// idempotencyKey is the key for one invocation's IssueToken: the user's,
// else one derived from the CI job so that re-running the same step does not
// mint a second token, else a random one that still makes this process's
// own retries safe.
func (r ciRun) idempotencyKey(user, purpose string) string {
	if user != "" {
		return user
	}
	if len(r.keyParts) == 0 {
		return "cli-" + randomHex(16)
	}
	key := strings.Join(append(r.keyParts[:len(r.keyParts):len(r.keyParts)], purpose), "-")
	if len(key) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		key = key[:maxKeyLen-33] + "-" + hex.EncodeToString(sum[:16])
	}
	return key
}

func nonEmpty(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails.
	return hex.EncodeToString(b)
}
