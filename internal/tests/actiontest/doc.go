// Package actiontest runs the repository's GitHub Action (actions/token
// and actions/token/revoke) the way a runner runs a composite action: it
// reads action.yml, evaluates the inputs, step environment and outputs
// expressions, and runs each step's script with bash in a fake GitHub
// environment — $GITHUB_OUTPUT, $GITHUB_ENV, the run's variables, and an
// ACTIONS_ID_TOKEN_REQUEST_URL served by a local fake of the Actions
// runtime — against a live broker (brokertest) that trusts a local OIDC
// issuer, with the real broker binary on PATH.
//
// The package holds only tests.
package actiontest
