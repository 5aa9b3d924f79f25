# Sourced by the C test scripts: `prefix` (the installed copy), `here`, `root`, the output folder
# `out` (build/NAME, made) and the environment that finds the installed library.
# Usage: . "$(dirname "$0")/setup.sh" PREFIX NAME
prefix="$1"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/$2"
mkdir -p "$out"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
export LD_LIBRARY_PATH="$prefix/lib"
