#!/bin/sh
# Copy the checkout (code only) to bench/work/code, so a long benchmark runs one fixed version
# of the code while the working tree keeps changing. Run the copy's runner with the main venv:
#   bench/snapshot.sh && .venv/bin/python bench/work/code/bench/run.py --work bench/work \
#       --results bench/results/results.csv --lines 1e6
set -e
cd "$(dirname "$0")/.."
rm -rf bench/work/code
mkdir -p bench/work/code
tar -c --exclude=./.venv --exclude=./.git --exclude=./bench/work --exclude='./data/*' \
    --exclude='__pycache__' --exclude=./dbt_project/logs . | tar -x -C bench/work/code
