package oidcauth

// Preset names.
const (
	PresetGitHub     = "github"
	PresetGitLab     = "gitlab"
	PresetKubernetes = "kubernetes"
)

type preset struct {
	issuerURL string
	algs      []string
	claims    []string
}

// presetFor returns the defaults for a preset name; "" is a generic
// issuer with no default URL and no extra claims.
func presetFor(name string) (preset, bool) {
	switch name {
	case PresetGitHub:
		// https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
		return preset{
			issuerURL: "https://token.actions.githubusercontent.com",
			algs:      []string{"RS256"},
			claims: []string{
				"repository", "repository_id", "repository_owner", "repository_owner_id",
				"repository_visibility", "ref", "ref_type", "ref_protected", "sha",
				"workflow", "workflow_ref", "job_workflow_ref", "run_id", "run_number",
				"run_attempt", "environment", "actor", "actor_id", "event_name",
				"head_ref", "base_ref", "runner_environment",
			},
		}, true
	case PresetGitLab:
		// https://docs.gitlab.com/ci/secrets/id_token_authentication/
		return preset{
			issuerURL: "https://gitlab.com",
			algs:      []string{"RS256"},
			claims: []string{
				"namespace_id", "namespace_path", "project_id", "project_path",
				"project_visibility", "user_id", "user_login", "pipeline_id",
				"pipeline_source", "job_id", "ref", "ref_type", "ref_path",
				"ref_protected", "environment", "environment_protected",
				"deployment_tier", "runner_id", "runner_environment",
				"ci_config_ref_uri", "sha",
			},
		}, true
	case PresetKubernetes:
		// Service account tokens carry namespace, service account and pod
		// under one nested claim; the issuer differs per cluster.
		return preset{
			algs:   []string{"RS256", "ES256"},
			claims: []string{"kubernetes.io"},
		}, true
	case "":
		return preset{algs: []string{"RS256"}}, true
	}
	return preset{}, false
}
