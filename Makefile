GO ?= go
# Builds that do not depend on where the checkout is: a fresh clone (CI)
# reuses what the build cache holds for the same sources instead of
# compiling every package of the module again.
export GOFLAGS := $(strip $(GOFLAGS) -trimpath)
# Test servers: override to point elsewhere.
export CACHEOPS_TEST_DATABASE ?= postgres://root@127.0.0.1:5432/test?sslmode=disable
export CACHEOPS_TEST_REDIS ?= redis://127.0.0.1:6379/9
# The cluster scripts/services.sh starts (CLUSTER_PORTS): the suite runs on it too.
export CACHEOPS_TEST_CLUSTER ?= redis://127.0.0.1:7001?addr=127.0.0.1:7002&addr=127.0.0.1:7003
BENCHTIME ?= 2s

.PHONY: test demo bench services lint fuzz torture profile

## test: start the servers if needed, vet, check formatting, fuzz briefly, run every test with -race.
test: services lint
	# A count, not a duration: Go 1.26's fuzz coordinator can fail a
	# duration-bound run at its deadline with no finding (golang/go#75804).
	$(MAKE) --no-print-directory fuzz FUZZTIME=20000x
	# A non-UTC local zone, so that time.Local values are really checked.
	TZ=Asia/Kolkata $(GO) test -race -count=1 -timeout 11m ./...
	# The analysis on the pure-Go parser too, and both parsers compared
	# (without -race: WebAssembly under the race detector takes half a minute).
	CGO_ENABLED=0 $(GO) test -count=1 ./keys ./internal/...
	$(GO) test -count=1 ./internal/pgparse
	# One tested example per stack, and the integrations, in modules of their own.
	cd examples && $(GO) test -race -count=1 ./...
	cd contrib/otel && $(GO) test -race -count=1 ./...
	cd contrib/prometheus && $(GO) test -race -count=1 ./...

## demo: a miss, a hit, an invalidating write and a rollback, with timings.
demo: services
	$(GO) run ./cmd/cacheops-demo

## bench: the parser table (cgo and pure Go), then the comparison tables (direct pgx, cacheops hit and miss, raw Redis GET).
BENCHBIN ?= /tmp/cacheops-bench
bench: services
	@mkdir -p $(BENCHBIN)
	@$(GO) build -o $(BENCHBIN)/cgo ./cmd/cacheops-bench
	@CGO_ENABLED=0 $(GO) build -o $(BENCHBIN)/purego ./cmd/cacheops-bench
	@echo "| parser | process start to first query | parse + analysis of a new statement | bench binary |"
	@echo "|---|---|---|---|"
	@$(BENCHBIN)/cgo -startup
	@$(BENCHBIN)/purego -startup
	@echo
	$(BENCHBIN)/cgo -time $(BENCHTIME)

## profile: CPU and allocation profiles of the hit, miss and write benchmarks (go tool pprof cpu.out).
profile: services
	$(GO) test -run '^$$' -bench 'BenchmarkRead|BenchmarkMissAndWrite|BenchmarkPoolRead' -benchmem -benchtime 3s \
		-cpuprofile cpu.out -memprofile mem.out .
	@echo "go tool pprof -top cacheops.test cpu.out; go tool pprof -sample_index=alloc_objects -top cacheops.test mem.out"

## torture: the consistency torture test for as long as asked (make torture DURATION=10m).
DURATION ?= 2m
torture: services
	CACHEOPS_TORTURE=$(DURATION) $(GO) test -race -count=1 -timeout 0 -run '^TestTorture(OnCluster|OnClusterFailover|Watched|Local)?$$' -v .

services:
	@bash scripts/services.sh

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt would change:"; gofmt -l .; exit 1)
	$(GO) vet ./...
	cd examples && $(GO) vet ./...
	cd contrib/otel && $(GO) vet ./...
	cd contrib/prometheus && $(GO) vet ./...
	# No C compiler needed: the pure-Go parser builds without cgo, and for
	# other systems.
	CGO_ENABLED=0 $(GO) build ./...
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=windows $(GO) build ./...

FUZZTIME ?= 100000x
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./serialize
	$(GO) test -run '^$$' -fuzz FuzzWirePayload -fuzztime $(FUZZTIME) ./serialize
	$(GO) test -run '^$$' -fuzz FuzzAnalyse -fuzztime $(FUZZTIME) ./keys
	$(GO) test -run '^$$' -fuzz FuzzEntryKey -fuzztime $(FUZZTIME) ./keys
	$(GO) test -run '^$$' -fuzz FuzzCanonical -fuzztime $(FUZZTIME) ./keys
