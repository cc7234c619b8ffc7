#!/usr/bin/env bash
# Installs every Debian package layerwatch needs to build, test and run its demo.
# Idempotent: when everything is present it prints nothing and touches nothing.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config clang-format
  libtorch-dev libgloo-dev
  libeigen3-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev
  libopenblas0-pthread libopenblas-dev liblapacke-dev
  libprotobuf-dev protobuf-compiler zlib1g-dev
  dataset-fashion-mnist
  python3 python3-numpy python3-torch
)
# Optional extras: e.g. LAYERWATCH_EXTRA_PACKAGES="chromium" for the report test.
if [[ -n "${LAYERWATCH_EXTRA_PACKAGES:-}" ]]; then
  read -r -a extra <<<"${LAYERWATCH_EXTRA_PACKAGES}"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "layerwatch: installing ${#missing[@]} missing package(s): ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "layerwatch: dependencies installed"
