#!/usr/bin/env bash
# Builds what users install, into OUT (default: dist/):
#   - one abi3 wheel for every CPython >= 3.10, tagged manylinux_2_17 (glibc 2.17,
#     CentOS 7 and newer), linked through zig so that the build machine's newer
#     glibc does not leak into it, and checked with `auditwheel show`;
#   - the sdist, which builds from source wherever a Rust toolchain exists.
# Needs the build tools of the `test` extra (maturin, ziglang, auditwheel) and a
# Rust toolchain; the wheel it makes needs neither. The kernels pick their
# instruction set (popcnt / AVX2 / AVX-512) at run time, so the wheel is
# compiled for baseline x86-64 and must never see `target-cpu=native`.
# Usage: bash scripts/build-dist.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"

for flags in "${RUSTFLAGS:-}" "${CARGO_BUILD_RUSTFLAGS:-}" "${CARGO_ENCODED_RUSTFLAGS:-}"; do
    case "$flags" in
    *target-cpu*)
        echo "build-dist: RUSTFLAGS set a target CPU ($flags); a wheel must run on baseline x86-64" >&2
        exit 2
        ;;
    esac
done

start=$(date +%s)
python -m maturin build --release --zig --compatibility manylinux_2_17 --out "$out"
python -m maturin sdist --out "$out"
echo "build-dist: built in $(($(date +%s) - start)) s"
for wheel in "$out"/hopfield-*-cp310-abi3-manylinux*.whl; do
    python -m auditwheel show "$wheel"
done
ls -l "$out"
