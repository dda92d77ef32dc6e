# The README names two targets: `make run` and `make test`. The rest serve deployment and work.
SHELL := /bin/bash
GO ?= go
# Every directory under functions/ with a main.go is one FC function.
FUNCTIONS ?= $(sort $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go)))
PACKAGES := ./shared/... ./local/... ./functions/... ./bench/transcode/...
BUILD_FLAGS := -trimpath -ldflags "-s -w"
TEST_FLAGS ?= -count=1 -timeout 25m

.PHONY: run test build package bench lint require

## run: the whole product on the local cloud (gateway on 127.0.0.1:8080)
run: require
	$(GO) run ./local/cmd/fclocal up

## test: every test of every module
test: require
	$(GO) test $(TEST_FLAGS) $(PACKAGES)

## build: one linux/amd64 binary per function under dist/FUNCTION/main
build:
	@mkdir -p dist
	@for f in $(FUNCTIONS); do \
		echo "build $$f"; \
		GOOS=linux GOARCH=amd64 CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o dist/$$f/main ./functions/$$f || exit 1; \
	done

## package: one zip per function, laid out as its FC runtime expects (see s.yaml)
package: build
	$(GO) run ./local/cmd/fclocal package --dist dist

## bench: Go benchmarks, then the transcode and local-cloud load scripts; copy the figures
## into docs/benchmarks.md with the command that produced them
bench: require
	$(GO) test -run '^$$' -bench . -benchmem $(PACKAGES)
	$(GO) run ./bench/transcode
	./bench/local-cloud.sh

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l shared local functions bench); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PACKAGES)

require:
	@./scripts/require ffmpeg
