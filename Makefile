# Run `make help` for the targets.
TOOL := go tool -modfile=tools/go.mod

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: dev
dev: ## Run the broker with the emulator and an in-memory store.
	go run ./cmd/broker dev

.PHONY: build
build: ## Build bin/broker.
	go build -o bin/broker ./cmd/broker

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
