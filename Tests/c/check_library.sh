#!/bin/sh
# The shared library exports only nic_* and needs nothing from the Swift toolchain.
set -eu
lib="$1"
extra=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^nic_' || true)
if [ -n "$extra" ]; then echo "FAIL: $lib exports symbols other than nic_*:"; echo "$extra"; exit 1; fi
if ldd "$lib" | grep -Ei 'swift|libFoundation|libdispatch|libBlocksRuntime'; then
  echo "FAIL: $lib depends on Swift toolchain libraries"; exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libnic.so.0" ] || { echo "FAIL: soname is '$soname'"; exit 1; }
echo "library check passed: $(nm -D --defined-only "$lib" | wc -l) nic_* symbols, soname $soname, no Swift runtime dependency"
