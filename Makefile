# Run `make help` for the targets.
TOOL := go tool -modfile=tools/go.mod
HELM := go tool -modfile=tools/helm/go.mod helm
CHART := deploy/helm/ztbroker
PROD_VALUES := deploy/helm/values-production.yaml

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

.PHONY: dev
dev: ## Run the broker with the emulator and an in-memory store.
	go run ./cmd/broker dev

.PHONY: build
build: ## Build bin/broker.
	go build -o bin/broker ./cmd/broker

.PHONY: config-reference
config-reference: ## Regenerate docs/configuration.md from the configuration types.
	go test -count=1 ./internal/tests/configref -run TestReferenceIsCurrent -update

.PHONY: generate
generate: ## Regenerate gen/ and the OpenAPI document from proto/.
	$(TOOL) buf lint
	$(TOOL) buf generate

.PHONY: verify
verify: generate ## Fail if generated code or formatting is out of date.
	@test -z "$$(git status --porcelain -- gen internal/apidocs)" || { git status --porcelain -- gen internal/apidocs; exit 1; }
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

.PHONY: test
test: ## Run the whole suite on a throwaway PostgreSQL.
	./scripts/test.sh

.PHONY: lint
lint: ## go vet, govulncheck (needs vuln.go.dev), and golangci-lint (v2.15.0) when installed.
	go vet ./...
	$(TOOL) govulncheck ./...
	@if command -v golangci-lint >/dev/null; then golangci-lint run ./...; else echo "golangci-lint not installed; skipped"; fi

.PHONY: bench
bench: ## Run the benchmarks the README quotes.
	./scripts/bench.sh

.PHONY: flood
flood: ## Measure RSS and caller latency under the unauthenticated floods.
	./scripts/flood.sh
.PHONY: bench-e2e
bench-e2e: ## The real binaries under load (loadgen cycles) beside pgbench.
	./scripts/bench.sh e2e

.PHONY: bench-scale
bench-scale: ## RSS, start-up and an expiry storm over 1,000,000 leases.
	./scripts/bench.sh scale

.PHONY: bench-proxy
bench-proxy: ## Measure the scoped proxy against the emulator, real binaries side by side.
	./scripts/bench-proxy.sh

.PHONY: helm
helm: ## Lint and render the Helm chart with the default and the production values.
	$(HELM) lint --strict $(CHART)
	$(HELM) lint --strict $(CHART) -f $(PROD_VALUES)
	$(HELM) template ztbroker $(CHART) >/dev/null
	$(HELM) template ztbroker $(CHART) -f $(PROD_VALUES) >/dev/null

.PHONY: monitoring
monitoring: ## Check the alerting rules and run their unit tests (promtool).
	@bash -c 'source scripts/deploytools.sh && promtool_ensure && set -x && \
	  "$$PROMTOOL" check rules deploy/prometheus/ztbroker.rules.yaml && \
	  cd deploy/prometheus && "$$PROMTOOL" test rules ztbroker.rules.test.yaml'

.PHONY: deploy-check
deploy-check: helm monitoring ## helm, monitoring, docker-compose config, and the Go tests of deploy/.
	@bash -c 'source scripts/deploytools.sh && compose_ensure && promtool_ensure && set -x && \
	  BROKER_SEAL_KEY=$$(openssl rand -base64 32) BROKER_CI_API_KEY=$$(openssl rand -hex 32) \
	    "$$DOCKER_COMPOSE" -f docker-compose.yml config -q && \
	  go test -count=1 ./internal/tests/deploytest/'
