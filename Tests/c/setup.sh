# Sourced by the C test scripts, whose first argument is the installed copy's prefix: sets
# `prefix`, `here`, `root`, the output folder `out` (build/$name, made; the script sets `name`)
# and the environment that finds the installed library.
# Usage: name=NAME; . "$(dirname "$0")/setup.sh"
prefix="$1"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/$name"
mkdir -p "$out"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
export LD_LIBRARY_PATH="$prefix/lib"
