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
	// stateDir keeps the random part of a derived key between the
	// invocations of one step (see stepNonce); empty outside CI.
	stateDir string
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
			// Emptied at the start and end of every job, even on
			// self-hosted runners.
			stateDir: firstSet(getenv("RUNNER_TEMP"), tempDir(getenv)),
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
			// GitLab has no per-job temporary directory. CI_JOB_ID in the
			// file name is never reused, so a file left by an earlier job
			// on a shell runner can never be read as this job's.
			stateDir: tempDir(getenv),
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

// stepKey is one invocation's idempotency key.
type stepKey struct {
	key string
	// nonce keeps the key's random part for the step's retries; nil
	// when the key is the user's or random per invocation.
	nonce *stepNonce
}

// idempotencyKey is the key for one invocation's IssueToken: the user's;
// else, inside CI, one derived from the job and step, so that a retry of
// the step does not mint a second token, with a random part that public
// run metadata does not reveal (see stepNonce); else a random one that
// still makes this process's own retries safe. warn receives a reason to
// fall back to a key per invocation.
func (r ciRun) idempotencyKey(user, purpose string, warn func(error)) stepKey {
	if user != "" {
		return stepKey{key: user}
	}
	if len(r.keyParts) == 0 {
		return stepKey{key: "cli-" + randomHex(16)}
	}
	parts := append(r.keyParts[:len(r.keyParts):len(r.keyParts)], purpose)
	sk := stepKey{}
	nonce, err := loadStepNonce(r.stateDir, parts)
	if err != nil {
		warn(err)
		nonce = &stepNonce{value: randomHex(16)}
	} else {
		sk.nonce = nonce
	}
	key := strings.Join(append(parts, nonce.value), "-")
	if len(key) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		key = key[:maxKeyLen-33] + "-" + hex.EncodeToString(sum[:16])
	}
	sk.key = key
	return sk
}

// forget makes the step's next invocation use a new key: its lease has
// ended, so replaying it could only fail.
func (k stepKey) forget() {
	if k.nonce != nil {
		k.nonce.remove()
	}
}

func nonEmpty(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails.
	return hex.EncodeToString(b)
}
