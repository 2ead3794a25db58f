#!/usr/bin/env bash
# The GPU checks of the toolkit in one run, for a machine with a CUDA GPU and PyTorch that may
# have no network: host synchronisation (experiments/cuda_check.py), the adaptation benchmark
# against SB3 (bench_adapt.py), meta-iteration time and the 1000-task x 100-env rollout
# (bench_scale.py), and a short meta-training run with `metarl train --device cuda`.
#
# Without network on that machine, carry gymnasium and stable-baselines3 as wheels in .whl/
# (fetched where pip works; the other dependencies are usually there with PyTorch):
#   python3 -m pip download --no-deps -d .whl gymnasium==1.4.0 farama-notifications==0.0.6 \
#       stable-baselines3==2.9.2
# Usage: bash experiments/gpu_checks.sh [OUT]   (each step's output in OUT/*.txt, default
# runs/gpu_checks; DEVICE=cuda:1 for another GPU; at most 9 minutes, each step under its own
# timeout; a step that fails or times out is reported and the others still run; exit status 1
# if any failed)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$repo/runs/gpu_checks}" && cd "${1:-$repo/runs/gpu_checks}" && pwd)
site=$(mktemp -d)
export PYTHONPATH=$site PYTHONUNBUFFERED=1
cd "$repo"
failed=0

step() {  # step NAME SECONDS COMMAND...: run one check, its output to OUT/NAME.txt
  local name=$1 seconds=$2
  shift 2
  echo "== $name: $*"
  timeout "$seconds" "$@" 2>&1 | tee "$out/$name.txt"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    echo "== $name FAILED (exit $rc$([ "$rc" -eq 124 ] && echo ", timed out after ${seconds} s"))"
    failed=1
  fi
}

# metarl into a fresh folder, beside the machine's own PyTorch (installed, not run from the
# checkout: metarl.envs and metarl.agents live in envs/ and agents/)
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" .whl/*.whl || exit 1
fi
had_build=$([ -e build ] && echo 1)
python3 -m pip install -q --no-deps --no-build-isolation --target "$site" . || exit 1
[ -z "$had_build" ] && rm -rf build  # setuptools' leftovers, never a folder that was there
metarl=("$site/bin/metarl")

device=${DEVICE:-cuda}
step machine 30 python3 -c "import torch; print(torch.__version__, torch.device('$device'), \
torch.cuda.get_device_name('$device') if torch.cuda.is_available() else 'no CUDA device')"
step cuda_check 90 python3 experiments/cuda_check.py --device "$device"
step bench_adapt 120 python3 experiments/bench_adapt.py --device "$device"
step bench_adapt_1epoch 90 python3 experiments/bench_adapt.py --device "$device" --epochs 1 \
  --minibatches 1
step bench_scale 150 python3 experiments/bench_scale.py --device "$device" --procs 1 --iterations 1
step train 60 "${metarl[@]}" train experiments/navigation2d_quick.toml --device "$device" \
  --no-eval --quiet --set meta.meta_iterations=5 --out "$out/train" --force
exit $failed
