#!/usr/bin/env bash
# The local cloud's own costs, measured in one run (docs/benchmarks.md, "Local cloud"):
#   1. per-request time of a trivial handler through the gateway + fcemu (custom runtime and
#      go1), straight on the same binary's custom-runtime port, and on a bare net/http hello
#      world; serially (latency) and with 8 concurrent clients (throughput);
#   2. cold start: fcemu starting a function binary until it is ready and until its first
#      response, and the bare process started by hand until it first answers;
#   3. binary sizes as s deploy builds them (linux/amd64, static, -trimpath -ldflags="-s -w").
# The load generator is Go's benchmark harness with net/http clients (local/cloud/bench_test.go).
# Usage: bench/local-cloud.sh            REQUESTS=5000 COLD=100 to change the sample sizes
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
requests=${REQUESTS:-5000}
cold=${COLD:-100}

echo "# $(date -u +%FT%TZ) $(go env GOVERSION) $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" | tee "$out/local-cloud.txt"
echo "## requests (${requests} per case)" | tee -a "$out/local-cloud.txt"
go test -run '^$' -bench 'BenchmarkRequest' -benchtime="${requests}x" -count=1 ./local/cloud | grep -E '^Benchmark' | tee -a "$out/local-cloud.txt"
echo "## cold starts (${cold} per case)" | tee -a "$out/local-cloud.txt"
go test -run '^$' -bench 'BenchmarkColdStart' -benchtime="${cold}x" -count=1 ./local/cloud | grep -E '^Benchmark' | tee -a "$out/local-cloud.txt"

echo "## binary sizes (GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -trimpath -ldflags=\"-s -w\")" | tee -a "$out/local-cloud.txt"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pkgs=(./local/cloud/testdata/hello ./local/cloud/testdata/fn)
for d in functions/*/; do
  [ -f "$d/main.go" ] && pkgs+=("./${d%/}")
done
for p in "${pkgs[@]}"; do
  GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$tmp/bin" "$p"
  awk -v p="$p" -v b="$(stat -c %s "$tmp/bin")" 'BEGIN { printf "%-36s %7.2f MB\n", p, b / 1e6 }' | tee -a "$out/local-cloud.txt"
done
