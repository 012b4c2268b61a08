#!/usr/bin/env bash
# Builds .venv-peers: infinity-emb beside (never inside) omnivec's .venv, so its dependency pins
# cannot move omnivec's. torch is asked for first and pinned to the same CPU build (2.13.0).
# Usage: bash benchmarks/peers/setup_infinity.sh   (idempotent; prints what it installed)
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=.venv-peers
test -x $VENV/bin/python || "$PYTHON" -m venv $VENV
echo '*' > $VENV/.gitignore  # git ignores the whole venv without a change to the project's .gitignore
$VENV/bin/pip install -q --upgrade pip
$VENV/bin/pip install -q "torch==2.13.0"
# infinity-emb 0.0.78 with the server and torch-engine extras; the constraint keeps torch where it is.
echo "torch==2.13.0" > $VENV/constraints.txt
$VENV/bin/pip install -q -c $VENV/constraints.txt "infinity-emb[server,torch]==${INFINITY_VERSION:-0.0.78}"
$VENV/bin/python -c "import infinity_emb, torch, transformers; print('infinity-emb', infinity_emb.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"
