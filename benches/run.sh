#!/usr/bin/env bash
# Benchmarks: `polytrans check` on 100k generated objects and `polytrans psp --to <target>` on 10k
# generated PSPs (with RBAC), each against a parse-only baseline (the same files parsed into
# serde_yaml/serde_json values and dropped). Writes the table to stdout; paste it in BENCHMARKS.md.
# Timing is a benchmark, never a test assertion.
#
#   bash benches/run.sh [COUNT_PODS] [COUNT_PSPS]
set -euo pipefail
cd "$(dirname "$0")/.."
pods=${1:-100000}
psps=${2:-10000}
out=target/bench
mkdir -p "$out"
cargo build --release --quiet --bin polytrans --example gen-pods --example gen-psps --example parse-only
bin=target/release
[ -f "$out/pods-$pods.yaml" ] || "$bin/examples/gen-pods" --count "$pods" --seed 1 > "$out/pods-$pods.yaml"
[ -f "$out/pods-$pods.json" ] || "$bin/examples/gen-pods" --count "$pods" --seed 1 --format json > "$out/pods-$pods.json"
[ -f "$out/psps-$psps.yaml" ] || "$bin/examples/gen-psps" --count "$psps" --seed 1 > "$out/psps-$psps.yaml"

# best of 3 wall-clock seconds and peak RSS (KiB) of a command
measure() {
  local best="" rss=0
  for _ in 1 2 3; do
    local t0 t1 r
    t0=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
      /usr/bin/time -f '%M' -o "$out/rss" "$@" >/dev/null 2>&1 || true
      r=$(tail -1 "$out/rss")
    else
      "$@" >/dev/null 2>&1 || true
      r=0
    fi
    t1=$(date +%s.%N)
    local t
    t=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    [ -n "$r" ] && [ "$r" -gt "$rss" ] 2>/dev/null && rss=$r
  done
  printf '%.3f %s\n' "$best" "$rss"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
echo
echo "| workload | objects | parse-only s | polytrans s | ratio | objects/s | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|"
[ -f "$out/pods-10000.yaml" ] || "$bin/examples/gen-pods" --count 10000 --seed 1 > "$out/pods-10000.yaml"
read -r t rss10k < <(measure "$bin/polytrans" check "$out/pods-10000.yaml" --level restricted)
printf '| check --level restricted (yaml, memory baseline) | 10000 | | %s | | | %s |\n' "$t" "$((rss10k / 1024))"
for fmt in yaml json; do
  f="$out/pods-$pods.$fmt"
  read -r base _ < <(measure "$bin/examples/parse-only" "$f")
  read -r t rss < <(measure "$bin/polytrans" check "$f" --level restricted)
  printf '| check --level restricted (%s) | %s | %s | %s | %.2f | %.0f | %s |\n' "$fmt" "$pods" "$base" "$t" "$(echo "$t / $base" | bc -l)" "$(echo "$pods / $t" | bc -l)" "$((rss / 1024))"
done
f="$out/psps-$psps.yaml"
read -r base _ < <(measure "$bin/examples/parse-only" "$f")
total=0
for target in ir pss falco kyverno kyverno-cel gatekeeper vap pss-labels; do
  if "$bin/polytrans" psp "$f" --to "$target" >/dev/null 2>&1; then
    read -r t rss < <(measure "$bin/polytrans" psp "$f" --to "$target")
    total=$(echo "$total + $t" | bc -l)
    printf '| psp --to %s | %s PSPs | %s | %s | %.2f | %.0f | %s |\n' "$target" "$psps" "$base" "$t" "$(echo "$t / $base" | bc -l)" "$(echo "$psps / $t" | bc -l)" "$((rss / 1024))"
  fi
done
printf '\nall implemented targets together: %.3f s\n' "$total"
