#!/usr/bin/env bash
# Quick start, command 2: install what is missing, build with -Werror, and
# run the whole test suite. Ends with "N passed, N failed".
set -eu
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s DEVELOPER=1 all
make -s DEVELOPER=1 check
