#!/bin/sh
# Builds the libFuzzer harnesses of Tests/fuzz/*.swift into $FUZZ_OUT (default .build-fuzz):
# NICCore and FFGlue are compiled from source with -sanitize=fuzzer,address (optimised, with
# debug info and -enable-testing so that harnesses can reach internal parsers), then each
# harness is linked against them. Usage: sh Tests/fuzz/build.sh [harness ...]
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${FUZZ_OUT:-$ROOT/.build-fuzz}
SWIFTC=${SWIFTC:-swiftc}
CLANG=${CLANG:-$(dirname "$(command -v "$SWIFTC")")/clang}
mkdir -p "$OUT/obj" "$OUT/modules" "$OUT/cpuinfo" "$OUT/bin"

SAN="-sanitize=fuzzer,address"
SWIFTFLAGS="-package-name libnic -O -g -swift-version 5 -parse-as-library -enable-testing -wmo $SAN"
SWIFTFLAGS="$SWIFTFLAGS -I $OUT/modules -I $OUT/cpuinfo -I $ROOT/Sources/CDNNL -I $ROOT/Sources/CFFmpeg -I $ROOT/Sources/CNicAPI"
SWIFTFLAGS="$SWIFTFLAGS $(pkg-config --cflags-only-I libavformat libavcodec libavutil libswscale | sed 's/-I/-Xcc -I/g')"
LIBS="$(pkg-config --libs libavformat libavcodec libavutil libswscale) -ldnnl -lgomp"

# True when OUTPUT is missing or older than any SOURCE.
stale() {   # stale OUTPUT SOURCE...
    target=$1; shift
    [ -f "$target" ] || return 0
    for s in "$@"; do [ "$s" -nt "$target" ] && return 0; done
    return 1
}

# CPUInfo: the C target, with the module map SwiftPM would generate.
cat > "$OUT/cpuinfo/module.modulemap.new" <<MAP
module CPUInfo {
    header "$ROOT/Sources/CPUInfo/include/cpuinfo.h"
    export *
}
MAP
cmp -s "$OUT/cpuinfo/module.modulemap.new" "$OUT/cpuinfo/module.modulemap" 2>/dev/null \
    || mv "$OUT/cpuinfo/module.modulemap.new" "$OUT/cpuinfo/module.modulemap"
rm -f "$OUT/cpuinfo/module.modulemap.new"
if stale "$OUT/obj/cpuinfo.o" "$ROOT/Sources/CPUInfo/cpu.c"; then
    "$CLANG" -O2 -g -fsanitize=fuzzer-no-link,address -I "$ROOT/Sources/CPUInfo/include" \
        -c "$ROOT/Sources/CPUInfo/cpu.c" -o "$OUT/obj/cpuinfo.o"
fi

build_module() {   # build_module NAME [OBJECT OF A MODULE IT IMPORTS]
    name=$1; shift
    sources=$(find "$ROOT/Sources/$name" -name '*.swift' | sort)
    # shellcheck disable=SC2086
    if stale "$OUT/obj/$name.o" $sources "$@"; then
        echo "fuzz build: $name"
        # shellcheck disable=SC2086
        "$SWIFTC" $SWIFTFLAGS -module-name "$name" -emit-module -emit-module-path "$OUT/modules/$name.swiftmodule" \
            -c $sources -o "$OUT/obj/$name.o"
    fi
}
build_module NICCore
build_module FFGlue "$OUT/obj/NICCore.o"

if [ $# -eq 0 ]; then
    set -- $(cd "$ROOT/Tests/fuzz" && ls fuzz_*.swift | sed 's/\.swift$//')
fi
for harness in "$@"; do
    src="$ROOT/Tests/fuzz/$harness.swift"
    if stale "$OUT/bin/$harness" "$src" "$OUT/obj/NICCore.o" "$OUT/obj/FFGlue.o" "$ROOT/Tests/fuzz/FuzzSupport.swift"; then
        echo "fuzz build: $harness"
        # shellcheck disable=SC2086
        "$SWIFTC" $SWIFTFLAGS -module-name "$harness" "$src" "$ROOT/Tests/fuzz/FuzzSupport.swift" \
            "$OUT/obj/NICCore.o" "$OUT/obj/FFGlue.o" "$OUT/obj/cpuinfo.o" \
            -use-ld=lld $LIBS -o "$OUT/bin/$harness"
    fi
done
