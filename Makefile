# comagicd — the two commands of the README are `make run` and `make test`.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/comagicd?sslmode=disable

.PHONY: run test lint lint-api build bench fuzz clean

## run: start the server on :8080 against the local Postgres with a demo site
run:
	@.ci/ensure-postgres
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/comagicd serve -demo

## test: everything CI runs (vet, unit, Postgres, PHP and Chromium tests, with -race)
test:
	@.ci/ensure-postgres
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 40m ./...

## lint: gofmt, go vet, staticcheck and the API contracts (Redocly's recommended rules, redocly.yaml)
lint: lint-api
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The API linters, pinned; npx fetches them from the npm registry once into its cache.
REDOCLY ?= npx --yes @redocly/cli@2.77.0
# The AsyncAPI validator (spec schema, references and its Spectral ruleset);
# CI=true keeps it from sending usage metrics.
ASYNCAPI ?= CI=true npx --yes @asyncapi/cli@4.1.1

## lint-api: lint every contract in api/ (Redocly over all; the AsyncAPI validator over asyncapi.yaml)
lint-api:
	$(REDOCLY) lint --format=stylish $(wildcard api/*.yaml)
	$(ASYNCAPI) validate --fail-severity=warn api/asyncapi.yaml

## build: the binary in bin/, and the embed script's size
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/comagicd ./cmd/comagicd
	@bin/comagicd version

## bench: load generator against an in-process server and a bare net/http handler
bench:
	@.ci/ensure-postgres
	$(GO) run ./cmd/bench $(BENCHFLAGS)

## fuzz: run each fuzz target for FUZZTIME (the decoders of every public input)
FUZZTIME ?= 60s
FUZZ_TARGETS := \
	./internal/leads:FuzzParse \
	./internal/phone:FuzzNormalize \
	./internal/schedule:FuzzParse \
	./internal/tracking:FuzzParseComagicID \
	./internal/comagic:FuzzOriginHost \
	./internal/httpapi:FuzzDecodeJSON \
	./internal/httpapi:FuzzOfflineMessage \
	./internal/httpapi:FuzzTrackBodies \
	./internal/httpapi:FuzzVCQuery \
	./internal/httpapi:FuzzOrigin
fuzz:
	@.ci/ensure-postgres
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		$(GO) test -run XXX -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) $${t%%:*}; \
	done

clean:
	rm -rf bin
