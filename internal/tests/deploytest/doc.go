// Package deploytest checks what deploy/ ships against the code it
// deploys: the Helm chart's rendered objects (probes, security context,
// secrets kept out of ConfigMaps, a configuration the broker's own loader
// accepts, the migration ahead of the broker), the Prometheus rules and the
// Grafana dashboard (every metric and label they use is one the code
// registers; promtool checks and unit-tests the rules), and
// docker-compose.yml's start-up order. It holds tests only.
//
// The chart is rendered by helm built from tools/helm/go.mod, so helm's
// dependencies stay out of the service's go.mod; promtool comes from
// $PROMTOOL or PATH (scripts/test.sh provides it), and docker-compose from
// $DOCKER_COMPOSE or PATH. A missing tool fails the test, saying how to get
// it.
package deploytest
