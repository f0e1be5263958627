#!/usr/bin/env bash
# Check a CUDA machine end to end in a few minutes: scripts/gpu_check.sh /path/to/local/hf/model [--lora ...]
# Trains SFT, a reward model, DPO and KTO on synthetic releases, generates, scores, rejection-samples and
# evaluates, then checks device, losses, reward accuracy, lineage and the catalog (see docs/gpu.md).
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${1:?usage: scripts/gpu_check.sh /path/to/local/hf/model [extra flywheel train gpu-check options]}
shift
PYTHON=${PYTHON:-.venv/bin/python}
FLYWHEEL=${FLYWHEEL:-.venv/bin/flywheel}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PYTHON" -c "import torch, sys; torch.cuda.is_available() or sys.exit('torch has no CUDA: install the CUDA build of torch (docs/gpu.md)'); print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'bf16', torch.cuda.is_bf16_supported())"
exec "$FLYWHEEL" train gpu-check --model "$MODEL" --expect-cuda "$@"
