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
	// owners are the claims that together own a caller's leases and
	// scope its idempotency keys: the narrowest identity the issuer
	// vouches for that stays the same across one workload's runs.
	owners []string
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
			// sub names only the repository and ref (or environment), the
			// same for every workflow of that branch; job_workflow_ref
			// names the workflow file whose job asked, so two workflows
			// of one branch are two owners.
			owners: []string{"sub", "job_workflow_ref"},
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
			// A project's pipelines for one ref and one trigger (push,
			// schedule, merge request, ...) share leases; sub would
			// split them by ref type as well but says nothing of the
			// trigger.
			owners: []string{"project_path", "ref", "pipeline_source"},
		}, true
	case PresetKubernetes:
		// Service account tokens carry namespace, service account and pod
		// under one nested claim; the issuer differs per cluster.
		// sub is system:serviceaccount:<namespace>:<name>, so every pod
		// of one service account (a Deployment's replicas) shares leases,
		// and the issuer name keeps two clusters apart.
		return preset{
			algs:   []string{"RS256", "ES256"},
			claims: []string{"kubernetes.io"},
			owners: []string{"sub"},
		}, true
	case "":
		return preset{algs: []string{"RS256"}, owners: []string{"sub"}}, true
	}
	return preset{}, false
}
