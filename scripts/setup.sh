#!/usr/bin/env bash
# Installs every Debian package prefer needs to build and test, and points the BLAS alternative at
# OpenBLAS (OpenMP build); Debian's chromium is the browser the report test renders report.html in.
# Idempotent: installs only what is missing, changes nothing otherwise.
# Node.js and npm are used for the reference checks against Hugging Face's own JS libraries; they are
# never apt-installed here (a NodeSource build may already own them), only checked for.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-openmp
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libyaml-cpp-dev
  libonig-dev libutf8proc-dev libcpp-httplib-dev libsnappy-dev libzstd-dev zlib1g-dev libgloo-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  chromium
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: not root and no sudo; install these packages yourself: ${packages[*]}" >&2
  fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all ${#packages[@]} Debian packages present"
fi

# LibTorch's CPU kernels call BLAS through libblas.so.3; the OpenMP OpenBLAS is the fast one here.
arch_triplet=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
for lib in libblas.so.3 liblapack.so.3; do
  alt="${lib}-${arch_triplet}"
  target="/usr/lib/${arch_triplet}/openblas-openmp/${lib}"
  if [ -e "$target" ]; then
    current=$(update-alternatives --query "$alt" 2>/dev/null | awk '/^Value:/ {print $2}')
    if [ "$current" != "$target" ]; then
      echo "setup: pointing $alt at $target"
      $SUDO update-alternatives --set "$alt" "$target" >/dev/null
    fi
  fi
done

if ! command -v npm >/dev/null 2>&1; then
  echo "setup: note: npm not found; the reference checks against Hugging Face's JS libraries need Node.js 18+ with npm" >&2
fi

# Reference libraries for the e2e checks (tools/reference/package-lock.json pins them).
if command -v npm >/dev/null 2>&1; then
  ref="$(cd "$(dirname "$0")/.." && pwd)/tools/reference"
  if [ ! -d "$ref/node_modules/@huggingface/tokenizers" ] || [ "$ref/package-lock.json" -nt "$ref/node_modules/.package-lock.json" ]; then
    echo "setup: installing the npm reference packages in tools/reference"
    (cd "$ref" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  # The real llama.cpp for the GGUF export checks: node-llama-cpp's prebuilt linux-x64 binary only
  # (--omit=optional skips its CUDA, Vulkan and ARM builds, ~650 MB; no install script, nothing compiled).
  llama="$(cd "$(dirname "$0")/.." && pwd)/tools/llama"
  if [ ! -d "$llama/node_modules/node-llama-cpp" ] || [ "$llama/package-lock.json" -nt "$llama/node_modules/.package-lock.json" ]; then
    echo "setup: installing node-llama-cpp (llama.cpp) in tools/llama"
    (cd "$llama" && npm ci --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
