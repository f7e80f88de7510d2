#!/bin/sh
# The long run of the Lua binding fuzzer (Tests/fuzz/fuzz.lua): CALLS calls in all, spread over SEEDS seeds, each seed
# in a fresh scratch directory under an address-space limit, as the test suite runs its short seeded pass.
#   sh bench/fuzz_long.sh [CALLS=1000000] [SEEDS=20] [BINARY=.build/release/darwinhost]
# Prints each seed's summary line (calls, mutated files, slowest call) and stops at the first seed that fails,
# leaving its scratch directory (fuzz-calls.log names the last call) for a look.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
calls=${1:-1000000}; seeds=${2:-20}; binary=$(cd "$root" && realpath "${3:-.build/release/darwinhost}")
per_seed=$((calls / seeds))
for seed in $(seq 1 "$seeds"); do
  scratch=$(mktemp -d)
  start=$(date +%s)
  if ! (cd "$scratch" && ulimit -v 8000000 && "$binary" "$root/Tests/fuzz/fuzz.lua" "$root" "$per_seed" 300 "$seed" > out.txt 2> err.txt); then
    echo "seed $seed FAILED (scratch kept: $scratch)"; tail -3 "$scratch/err.txt"; tail -1 "$scratch/fuzz-calls.log"; exit 1
  fi
  echo "seed $seed: $(tail -1 "$scratch/out.txt"); $(tail -2 "$scratch/out.txt" | head -1); $(( $(date +%s) - start )) s"
  rm -rf "$scratch"
done
echo "fuzz: $((per_seed * seeds)) calls over $seeds seeds, no signal, no hang"
