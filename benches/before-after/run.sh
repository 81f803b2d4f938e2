#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md with two `croupier` binaries, alternating them round by
# round so that drift in the machine's load hits both alike, and writes one JSON line per run.
#
#   benches/before-after/run.sh BEFORE_BIN AFTER_BIN [ROUNDS] > results.jsonl
#   benches/before-after/summary.py results.jsonl
#
# Sizes are smaller than the scenarios' defaults so that 3 rounds take about 20 minutes; the
# figures compare the two builds, they are not the headline numbers.
set -euo pipefail
before=${1:?before binary}; after=${2:?after binary}; rounds=${3:-3}
scratch=$(mktemp -d /tmp/before-after.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

scenarios=(
  "engine-bets|engine-bets --ops 3000000"
  "engine-bets-b64|engine-bets --batch 64 --ops 3000000"
  "engine-settle|engine-settle"
  "engine-grab|engine-grab"
  "engine-grab-b64|engine-grab --batch 64"
  "shard-bets-process|shard-bets --durability process --ops 1000000 --data-dir DATA"
  "shard-bets-fsync|shard-bets --durability fsync --ops 300000 --data-dir DATA"
  "fsync|fsync --ops 2000 --data-dir DATA"
  "bets-1x1-w16-process|bets --shards 1 --producers 1 --window 16 --durability process --ops 2000000"
  "bets-2x2-w64-process|bets --shards 2 --producers 2 --window 64 --durability process --ops 2000000"
  "bets-2x2-w1024-fsync|bets --shards 2 --producers 2 --window 1024 --durability fsync --ops 1000000"
  "settle-2|settle --shards 2"
  "grab-1x1-w64|grab --shards 1 --producers 1 --window 64"
  "mixed-2x2-w64|mixed --shards 2 --producers 2 --window 64 --ops 1000000"
  "http-bets-process-16|http-bets --duration 5"
  "http-bets-fsync-256|http-bets --durability fsync --connections 256 --duration 5"
)

for ((round = 1; round <= rounds; round++)); do
  # Alternate which build goes first, so neither always runs on a warmer or colder machine.
  if ((round % 2)); then order=("before:$before" "after:$after"); else order=("after:$after" "before:$before"); fi
  for entry in "${scenarios[@]}"; do
    name=${entry%%|*}; args=${entry#*|}
    for who in "${order[@]}"; do
      label=${who%%:*}; bin=${who#*:}
      rm -rf "$scratch/data"
      line=$("$bin" bench ${args//DATA/$scratch/data} --json 2>/dev/null | tail -n 1) || line='{"error":"run failed"}'
      printf '{"round":%d,"build":"%s","name":"%s","load":"%s","result":%s}\n' \
        "$round" "$label" "$name" "$(cut -d' ' -f1 /proc/loadavg)" "$line"
    done
  done
done
