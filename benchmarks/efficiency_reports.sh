#!/usr/bin/env bash
# Issue 6 reports from finished compare.py runs (see benchmarks/README.md, "Search efficiency").
# Each line prints one SUMMARY and writes <stem>.json and plots under reports/efficiency/.
set -euo pipefail
cd "$(dirname "$0")"
R=results
O=reports/efficiency
EMBEDDED=vmle-local/smollm2-135m
mkdir -p "$O"
# Target 1: embedded SmolLM2 (5 seeds) and two scripted weak LLMs (10 seeds) against TPE.
python budgets.py $R/t1 $R/t1-scripted --problem tab-sasrec-beauty-small-e20-u0.2 \
    --samplers tpe vmle --model $EMBEDDED --target-budget 30 --out $O/t1-embedded
python budgets.py $R/t1-scripted --model scripted --out $O/t1-scripted
python budgets.py $R/t1-scripted-clustered --model scripted-clustered \
    --problem tab-sasrec-beauty-small-e20-u0.2 --out $O/t1-clustered
# Target 2: transfer, embedded model (Beauty -> Sports) and scripted (every pair, both models).
python budgets.py $R/t1-scripted $R/t2-b2s --problem tab-sasrec-sports_and_outdoors-small-e20-u0.2 \
    --samplers tpe tpe-warm vmle-transfer --model $EMBEDDED --budgets 1 5 10 15 20 --target-budget 30 \
    --out $O/t2-embedded-beauty-to-sports
for d in $R/t2-scripted-*; do
    python budgets.py "$d" --samplers tpe tpe-warm vmle-transfer vmle --model scripted \
        --budgets 1 5 10 15 30 --target-budget 30 --out "$O/$(basename "$d")"
done
# Target 3: ablations with the embedded model (vmle's first 30 trials of its 50-trial runs).
python budgets.py $R/t1 $R/t1-scripted $R/t3-ablate --problem tab-sasrec-beauty-small-e20-u0.2 \
    --samplers tpe vmle vmle-noreflect vmle-noinsights --model $EMBEDDED --budgets 10 20 30 \
    --target-budget 30 \
    --out $O/t3-ablations
