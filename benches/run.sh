#!/usr/bin/env bash
# Benchmarks (never test assertions): prints the tables recorded in BENCHMARKS.md.
#
#   bash benches/run.sh [COUNT_PODS] [COUNT_PSPS] [RUNS]
#
# - `polytrans check --level restricted` on generated pods (JSON: a `kind: List`, a top-level
#   array, and one object per line (NDJSON); and multi-document YAML) at 10k and COUNT_PODS
#   objects: best-of-RUNS seconds, pods/s, ratio to the parse-only floor
#   (`examples/parse-only.rs`: a streaming serde_json parse of the same file, list items or
#   array elements or lines into `IgnoredAny`; serde_yaml `Value` per YAML document), peak RSS;
# - peak RSS of `check` per report format on the JSON list of COUNT_PODS objects;
# - one run `polytrans psp --to all -o DIR/` on COUNT_PSPS generated PSPs with RBAC: seconds,
#   ratio to parsing that corpus, peak RSS against the input size;
# - one typical PSP to each target: median wall clock of 21 runs, process start included.
#
# Corpora are generated deterministically (seed 1) under $CARGO_TARGET_DIR/bench (default
# target/bench). A tiny run for a smoke test: `bash benches/run.sh 200 50 1`; only the `check`
# table: `CHECK_ONLY=1 bash benches/run.sh 100000 1 3`.
set -euo pipefail
cd "$(dirname "$0")/.."
pods=${1:-100000}
psps=${2:-10000}
runs=${3:-3}
target=${CARGO_TARGET_DIR:-target}
out=$target/bench
mkdir -p "$out"
cargo build --release --quiet --bin polytrans --example gen-pods --example gen-psps --example parse-only
bin=$target/release

gen() { # gen FILE generator args...
  local f=$1
  shift
  [ -s "$f" ] || "$@" >"$f"
}
small=10000
[ "$pods" -lt "$small" ] && small=$pods
for n in $small $pods; do
  gen "$out/pods-$n.yaml" "$bin/examples/gen-pods" --count "$n" --seed 1
  gen "$out/pods-$n.json" "$bin/examples/gen-pods" --count "$n" --seed 1 --format json
  gen "$out/pods-$n.array.json" "$bin/examples/gen-pods" --count "$n" --seed 1 --format json-array
  gen "$out/pods-$n.ndjson" "$bin/examples/gen-pods" --count "$n" --seed 1 --format ndjson
done
gen "$out/psps-$psps.yaml" "$bin/examples/gen-psps" --count "$psps" --seed 1

# best of $runs (by wall clock): "wall-seconds cpu-seconds peak-RSS-KiB" of a command (stdout
# discarded; exit code ignored). CPU seconds (user + system) are what to compare on a machine
# shared with other work; wall clock is what a user waits. Without /usr/bin/time: wall clock only.
measure() {
  local best="" cpu=0 rss=0 i t u s r
  for ((i = 0; i < runs; i++)); do
    if [ -x /usr/bin/time ]; then
      /usr/bin/time -f '%e %U %S %M' -o "$out/time" "$@" >/dev/null 2>&1 || true
      read -r t u s r < <(tail -1 "$out/time")
    else
      local t0 t1
      t0=$(date +%s.%N)
      "$@" >/dev/null 2>&1 || true
      t1=$(date +%s.%N)
      t=$(echo "$t1 - $t0" | bc -l)
      u=0 s=0 r=0
    fi
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then
      best=$t
      cpu=$(echo "$u + $s" | bc -l)
    fi
    [ "$r" -gt "$rss" ] && rss=$r
  done
  printf '%s %.2f %s\n' "$best" "$cpu" "$rss"
}

ratio() { if [ "$(echo "$2 > 0" | bc -l)" = 1 ]; then printf '%.2f' "$(echo "$1 / $2" | bc -l)"; else printf -- '-'; fi; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: bash benches/run.sh $pods $psps $runs"
echo
echo "| check --level restricted | objects | parse floor s (cpu) | polytrans s (cpu) | ratio wall (cpu) | pods/s wall (cpu) | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|"
for fmt in json json-array ndjson yaml; do
  for n in $small $pods; do
    case $fmt in
    json-array) f="$out/pods-$n.array.json" ;;
    *) f="$out/pods-$n.$fmt" ;;
    esac
    read -r base bcpu _ < <(measure "$bin/examples/parse-only" "$f")
    read -r t cpu rss < <(measure "$bin/polytrans" check "$f" --level restricted)
    printf '| %s | %s | %s (%s) | %s (%s) | %s (%s) | %.0f (%.0f) | %s |\n' "$fmt" "$n" "$base" "$bcpu" "$t" "$cpu" \
      "$(ratio "$t" "$base")" "$(ratio "$cpu" "$bcpu")" "$(echo "$n / $t" | bc -l)" "$(echo "$n / ($cpu + 0.001)" | bc -l)" "$((rss / 1024))"
    [ "$small" = "$pods" ] && break
  done
done
# CHECK_ONLY=1: only the table above (the `check` shapes), e.g. while working on `check`.
[ -n "${CHECK_ONLY:-}" ] && exit 0
read -r slice scpu _ < <(measure "$bin/examples/parse-only" --slice "$out/pods-$pods.json")
echo
echo "(The JSON list parsed whole from memory instead of streamed: $slice s, cpu $scpu s, for $pods objects.)"

echo
echo "| check --format (json, $pods objects) | output MB | peak RSS MiB | s (cpu) |"
echo "|---|---|---|---|"
for format in text json sarif junit; do
  read -r t cpu rss < <(measure "$bin/polytrans" check "$out/pods-$pods.json" --level restricted --format "$format")
  size=$("$bin/polytrans" check "$out/pods-$pods.json" --level restricted --format "$format" 2>/dev/null | wc -c || true)
  printf '| %s | %s | %s | %s (%s) |\n' "$format" "$((size / 1000000))" "$((rss / 1024))" "$t" "$cpu"
done

f="$out/psps-$psps.yaml"
input_kib=$(($(stat -c %s "$f") / 1024))
read -r base bcpu _ < <(measure "$bin/examples/parse-only" "$f")
rm -rf "$out/all"
read -r t cpu rss < <(measure "$bin/polytrans" psp "$f" --to all -o "$out/all/")
echo
echo "| psp --to all -o DIR/ | PSPs | input KiB | output MiB | parse floor s (cpu) | polytrans s (cpu) | ratio wall (cpu) | peak RSS MiB | RSS / input |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '| all targets | %s | %s | %s | %s (%s) | %s (%s) | %s (%s) | %s | %s |\n' "$psps" "$input_kib" "$(du -sm "$out/all" | cut -f1)" "$base" "$bcpu" "$t" "$cpu" \
  "$(ratio "$t" "$base")" "$(ratio "$cpu" "$bcpu")" "$((rss / 1024))" "$(ratio "$rss" "$input_kib")"

# One typical PSP (the restricted example) to each target: median of 21 wall-clock runs.
one=$out/one-psp.yaml
cat >"$one" <<'EOF'
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: restricted
  annotations:
    seccomp.security.alpha.kubernetes.io/allowedProfileNames: 'docker/default,runtime/default'
    seccomp.security.alpha.kubernetes.io/defaultProfileName: 'runtime/default'
spec:
  privileged: false
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [configMap, emptyDir, projected, secret, downwardAPI, csi, persistentVolumeClaim, ephemeral]
  hostNetwork: false
  hostIPC: false
  hostPID: false
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  fsGroup: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  readOnlyRootFilesystem: false
EOF
echo
echo "| one PSP to | median ms (21 runs, process start included) |"
echo "|---|---|"
for target in ir pss falco kyverno kyverno-cel gatekeeper vap kubewarden pss-labels; do
  "$bin/polytrans" psp "$one" --to "$target" >/dev/null 2>&1 || continue
  for _ in $(seq 21); do
    t0=$(date +%s%N)
    "$bin/polytrans" psp "$one" --to "$target" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
  done | sort -n | sed -n 11p | awk -v t="$target" '{printf "| %s | %.1f |\n", t, $1 / 1000}'
done
