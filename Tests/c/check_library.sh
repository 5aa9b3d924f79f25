#!/bin/sh
# The shared library exports only nic_*, exactly the functions nic.h declares, each under its
# symbol version (libnic.map), and needs nothing from the Swift toolchain.
set -eu
lib="$1"
extra=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^nic_' || true)
if [ -n "$extra" ]; then echo "FAIL: $lib exports symbols other than nic_*:"; echo "$extra"; exit 1; fi
if ldd "$lib" | grep -Ei 'swift|libFoundation|libdispatch|libBlocksRuntime'; then
  echo "FAIL: $lib depends on Swift toolchain libraries"; exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libnic.so.0" ] || { echo "FAIL: soname is '$soname'"; exit 1; }

# Symbol versions: the functions added in 0.3 and 0.4 and the inits whose struct grew in 0.3
# under their version (those inits also under LIBNIC_0, for the first layout), every other
# function under LIBNIC_0 only.
grown_0_3="nic_config_init nic_encode_options_init"
since_0_3="nic_setting_precision nic_upscale_liff nic_image_ai_encode nic_image_ai_options_init nic_video_choose_scale"
since_0_4="nic_image_encode_layered nic_image_decode_layer nic_image_read_layers"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only --with-symbol-versions "$lib" | awk '{print $3}' | sort > "$tmp/exported"

# Exactly the functions nic.h declares: nothing internal, nothing missing.
header="$(dirname "$0")/../../include/nic.h"
tr '\n' ' ' < "$header" | grep -o 'NIC_API [^;{]*(' | grep -o 'nic_[a-z0-9_]*(' | tr -d '(' | sort -u > "$tmp/declared"
sed 's/@.*//' "$tmp/exported" | sort -u > "$tmp/names"
if ! diff "$tmp/declared" "$tmp/names" > "$tmp/diff"; then
  echo "FAIL: $lib's functions differ from those nic.h declares (<: nic.h only, >: library only):"; cat "$tmp/diff"; exit 1
fi
echo $grown_0_3 $since_0_3 $since_0_4 | tr ' ' '\n' > "$tmp/later"
{
  for f in $grown_0_3; do echo "$f@@LIBNIC_0.3"; echo "$f@LIBNIC_0"; done
  for f in $since_0_3; do echo "$f@@LIBNIC_0.3"; done
  for f in $since_0_4; do echo "$f@@LIBNIC_0.4"; done
  sed 's/@.*//' "$tmp/exported" | sort -u | grep -vxF -f "$tmp/later" | sed 's/$/@@LIBNIC_0/'
} | sort > "$tmp/expected"
if ! diff "$tmp/expected" "$tmp/exported" > "$tmp/diff"; then
  echo "FAIL: $lib's symbol versions differ from the expected (<):"; cat "$tmp/diff"; exit 1
fi
echo "library check passed: $(wc -l < "$tmp/exported") nic_* symbols with their versions (up to LIBNIC_0.4)," \
  "soname $soname, no Swift runtime dependency"
