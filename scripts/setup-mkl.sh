#!/bin/sh
# Runs darwinhost on Intel oneMKL instead of OpenBLAS, without rebuilding it (optional; Intel CPUs). Downloads MKL's
# wheel from PyPI, unpacks its libraries into DIR (default .build/mkl) and builds there a libopenblas.so.0 that
# answers OpenBLAS's interface with MKL (scripts/mkl/openblas_on_mkl.c). Then, in the same shell:
#
#     scripts/setup-mkl.sh && . .build/mkl/env.sh && darwinhost --version    # "... (Lua 5.4, MKL 2026.2 (...))"
#
# Measured on an AVX-512 Xeon (docs/performance.md, "Intel's MKL behind OpenBLAS's interface"): training steps about
# 7% and KL evaluations about 5% faster than with Debian 12's OpenBLAS, the compression database about 10% slower.
# MKL keeps the buffers of finished calls for reuse, which makes a training step about 3% faster and a memory-lean
# one's peak about 0.07 GiB higher; MKL_DISABLE_FAST_MM=1 in the environment trades that back.
# MKL is Intel's, under the Intel Simplified Software License (DIR/LICENSE.txt).
set -eu
version="2026.2.0"
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/.build/mkl}"
mkdir -p "$dir/lib"
dir="$(cd "$dir" && pwd)"
wheel="$(ls "$dir"/mkl-"$version"-*.whl 2>/dev/null | head -n 1 || true)"
if [ -z "$wheel" ]; then
    python3 -m pip download --quiet --no-deps --dest "$dir" "mkl==$version"
    wheel="$(ls "$dir"/mkl-"$version"-*.whl | head -n 1)"
fi
# Only the LP64 interface, GNU OpenMP threading, the core and its per-CPU kernels are needed (not ScaLAPACK, TBB,
# Intel OpenMP or the ILP64 interface).
python3 - "$wheel" "$dir" <<'PY'
import os, re, sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
wanted = re.compile(r"libmkl_(core|intel_lp64|gnu_thread|def|mc3|avx2|avx512|avx10)\.so\.\d+$")
with zipfile.ZipFile(wheel) as archive:
    for entry in archive.namelist():
        name = os.path.basename(entry)
        library = wanted.match(name) is not None
        if library or name == "LICENSE.txt":
            destination = os.path.join(target, "lib" if library else "", name)
            with archive.open(entry) as source, open(destination + ".part", "wb") as out:
                out.write(source.read())
            os.replace(destination + ".part", destination)
PY
cd "$dir/lib"
for library in libmkl_core libmkl_intel_lp64 libmkl_gnu_thread; do ln -sf "$library.so.3" "$library.so"; done
cc -O2 -shared -fPIC -Wl,-soname,libopenblas.so.0 -Wl,-rpath,'$ORIGIN' -Wl,--no-as-needed -o libopenblas.so.0.part \
    "$root/scripts/mkl/openblas_on_mkl.c" -L"$dir/lib" -lmkl_intel_lp64 -lmkl_gnu_thread -lmkl_core -lgomp -lpthread -lm
mv libopenblas.so.0.part libopenblas.so.0
printf 'export LD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"\n' "$dir/lib" > "$dir/env.sh"
echo "setup-mkl.sh: MKL $version in $dir/lib; run '. $dir/env.sh' to use it in this shell"
