#!/usr/bin/env bash
# Installs the system packages a bare Debian/Ubuntu machine lacks for a source build and the tests:
# a C++17 compiler, cmake, ninja, git (to unpack the pinned llama.cpp bundle), ccache (optional
# speed-up), binutils (nm, strip, objdump), Debian's Pillow + numpy (reference images for the tests)
# and, on x86-64, qemu-user: the package test runs the prebuilt addon on emulated CPUs without AVX2.
# clang + llvm (llvm-symbolizer): the libFuzzer harnesses and readable sanitizer stacks
# (`npm run test:hardening`); libclang-rt-dev holds clang's ASan/UBSan/libFuzzer runtimes.
# poppler-utils (pdftoppm: the reference renderer the PDF tests compare against), qpdf (encrypts a
# test PDF) and redis-server (the queue tests start their own on loopback; no service is used).
# libvulkan-dev, glslc and spirv-headers build ggml's Vulkan backend (`npm run build:gpu -- vulkan`);
# mesa-vulkan-drivers is Mesa's software Vulkan driver (lavapipe) the GPU tests run it on.
set -euo pipefail
pkgs=(g++ make cmake ninja-build git ccache binutils python3 python3-pil python3-numpy clang llvm libclang-rt-dev poppler-utils qpdf redis-server libvulkan-dev glslc spirv-headers mesa-vulkan-drivers)
# x86-64 also cross-builds linux-arm64 (clang --target=aarch64-linux-gnu on Debian's cross libstdc++,
# glibc and binutils) and runs it under qemu-aarch64 with the real arm64 Node (test/platform-arm64.test.ts).
[ "$(uname -m)" = "x86_64" ] && pkgs+=(qemu-user g++-aarch64-linux-gnu libc6-dev-arm64-cross)
# MinGW-w64 (posix threads) cross-builds the win32-x64 set (scripts/cross/win32-x64.mjs); Wine runs it
# with the real Node for Windows (test/platform-win32.test.ts).
[ "$(uname -m)" = "x86_64" ] && pkgs+=(g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 wine64 wine)
# chromium: the page test drives Debian's browser with playwright-core (no browser download);
# curl: the server tests speak to `minimonkey serve` with it.
pkgs+=(chromium curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all system packages present"
  exit 0
fi
echo "setup-system: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
