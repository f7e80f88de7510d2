#!/bin/bash
# Installs darwinhost like a Lua interpreter: PREFIX/bin/darwinhost and its Lua modules in
# PREFIX/share/darwinhost/stdlib, where the binary looks for them. Build first:
#
#     swift build -c release && scripts/install.sh /usr/local      # or any PREFIX, e.g. ~/.local
#
# BUILD_DIR names another build folder (default .build/release; e.g. what `swift build --scratch-path DIR` made).
set -euo pipefail
prefix="${1:-/usr/local}"
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="${BUILD_DIR:-$root/.build/release}/darwinhost"
if [ ! -x "$binary" ]; then
    echo "install.sh: $binary not found: run 'swift build -c release' first (or set BUILD_DIR)" >&2
    exit 1
fi
share="$prefix/share/darwinhost"
install -d "$prefix/bin" "$share"
# The modules replaced whole, through a temporary copy: a failed copy leaves the old ones in place.
rm -rf "$share/stdlib.new"
cp -R "$root/stdlib" "$share/stdlib.new"
rm -rf "$share/stdlib"
mv "$share/stdlib.new" "$share/stdlib"
install -m 755 "$binary" "$prefix/bin/darwinhost"
"$prefix/bin/darwinhost" -v
