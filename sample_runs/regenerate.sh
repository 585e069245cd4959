#!/usr/bin/env bash
# Regenerate the bundled sample runs with the project's own commands and the simulated
# models (deterministic: the same code gives the same trees). Run from the repository
# root after installing:  bash sample_runs/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")"
db="$(mktemp -d)/samples.db"
trap 'rm -rf "$(dirname "$db")"' EXIT

make() {  # make NAME [run options...]
  local name="$1"; shift
  repair-tui run --db "$db" --name "$name" --seed 0 "$@"
  repair-tui export "$name" --db "$db" --format jsonl -o "$name.jsonl"
  gzip -n -9 -f "$name.jsonl"
  chmod 644 "$name.jsonl.gz"
}

# 1. HumanEval, all 164 tasks, np=10, nfr=3, joint mode (one call explains and repairs).
make humaneval-sim-joint --dataset humaneval --model sim --np 10 --nfr 3 --mode joint
# 2. The same tasks in separate mode: a stronger simulated model writes the feedback,
#    the same code model repairs (the paper's "GPT-4 explains, GPT-3.5 repairs").
make humaneval-sim-strong-feedback --dataset humaneval --model sim --feedback-model sim-strong \
  --np 10 --nfr 3 --mode separate
# 3. The project's APPS-layout problem set: stdin/stdout and call-based problems.
make apps-sample-sim-joint --dataset apps-sample --model sim --np 10 --nfr 3 --mode joint
ls -l ./*.jsonl.gz
