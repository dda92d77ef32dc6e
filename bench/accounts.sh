#!/usr/bin/env bash
# Accounts figures (docs/benchmarks.md, "shared/accounts"), from the Go benchmarks in
# shared/accounts/bench_test.go:
#   1. login throughput and p50 over loopback HTTP, against argon2id verification alone at the
#      same concurrency (what bounds it);
#   2. authenticated GET /api/v1/me through the custom-runtime adapter against a bare net/http
#      hello world with the same load generator. The pair runs back to back RUNS times and the
#      median of the per-run ratios is reported, since other work on a shared machine moves
#      both figures between runs;
#   3. the median answer times of register, login and forgot for addresses with and without an
#      account (TestRegisterLoginForgotTimingAlikeForKnownAndUnknownAddresses, -timing).
# Usage: bench/accounts.sh            RUNS=9 LOGIN_TIME=5s ME_TIME=1s to change the sample sizes
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
runs=${RUNS:-9}
login_time=${LOGIN_TIME:-5s}
me_time=${ME_TIME:-1s}
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
(cd shared && go test -c -o "$bin" ./accounts)

{
  echo "# $(date -u +%FT%TZ) $(go env GOVERSION) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "## login (${login_time})"
  (cd shared/accounts && "$bin" -test.run '^$' -test.bench 'Login' -test.benchtime "$login_time" | grep -E '^Benchmark')
  echo "## GET /api/v1/me against hello world (${runs} runs of ${me_time} each)"
  for _ in $(seq "$runs"); do
    (cd shared/accounts && "$bin" -test.run '^$' -test.bench 'Me$' -test.benchtime "$me_time" | grep -E '^Benchmark') |
      awk '{ for (i = 1; i <= NF; i++) if ($i == "req/s") { if ($1 ~ /hello/) h = $(i - 1); else m = $(i - 1) } }
           END { printf "hello %8.0f req/s  me %8.0f req/s  ratio %.2f\n", h, m, m / h }'
  done | tee /dev/stderr | awk '{ print $NF }' | sort -n |
    awk '{ a[NR] = $1 } END { printf "median ratio %.2f (min %.2f, max %.2f)\n", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2), a[1], a[NR] }'
  echo "## known against unknown addresses: median answer times (goal: within 5 ms)"
  (cd shared/accounts && "$bin" -test.run 'TimingAlike' -test.v -timing 2>/dev/null | grep -E 'round|^(--- |ok|FAIL)')
  echo "## in-process CPU per request"
  (cd shared/accounts && "$bin" -test.run '^$' -test.bench 'MeInProcess' -test.benchmem | grep -E '^Benchmark')
} 2>&1 | tee "$out/accounts.txt"
