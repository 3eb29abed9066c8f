# The one test command: `make test` (what .ci/run runs, with CI=true).
.PHONY: test generate check-generated lint build run bench

GO ?= go

build:
	$(GO) build -o bin/cleanroomsd ./cmd/cleanroomsd

run:
	$(GO) run ./cmd/cleanroomsd serve --addr 127.0.0.1:4566 --data-dir ./data

generate:
	$(GO) generate ./internal/api/...

# Regenerates the wire layer and fails if the result differs from what is
# committed: generated files are never edited by hand.
check-generated:
	scripts/check-generated.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: lint check-generated
	scripts/test.sh

bench:
	$(GO) run ./bench -mode api -duration 5s
	$(GO) run ./bench -mode queries -rows 100,1000000,10000000
