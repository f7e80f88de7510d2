#!/bin/sh
# Installs darwinhost's system dependencies on Debian/Ubuntu (Lua 5.4, OpenBLAS, libedit, zlib, pkg-config), and
# Open MPI for `mpirun -np N darwinhost` (optional: without it darwinhost builds as a single process).
# Uses sudo when not run as root; does nothing when everything is already installed.
set -e
packages="liblua5.4-dev libopenblas-dev pkg-config libedit-dev zlib1g-dev libopenmpi-dev openmpi-bin"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
