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
mkdir -p "$OUT/obj" "$OUT/modules" "$OUT/bin"

SAN="-sanitize=fuzzer,address"
SWIFTFLAGS="-package-name libnic -O -g -swift-version 5 -parse-as-library -enable-testing -wmo $SAN"
SWIFTFLAGS="$SWIFTFLAGS -I $OUT/modules -I $ROOT/Sources/CDNNL -I $ROOT/Sources/CFFmpeg -I $ROOT/Sources/CNicAPI"
SWIFTFLAGS="$SWIFTFLAGS $(pkg-config --cflags-only-I libavformat libavcodec libavutil libswscale | sed 's/-I/-Xcc -I/g')"
LIBS="$(pkg-config --libs libavformat libavcodec libavutil libswscale) -ldnnl -lgomp"

# True when OUTPUT is missing or older than any SOURCE.
stale() {   # stale OUTPUT SOURCE...
    target=$1; shift
    [ -f "$target" ] || return 0
    for s in "$@"; do [ "$s" -nt "$target" ] && return 0; done
    return 1
}

# The C targets, each with the module map SwiftPM would generate (one header line per public
# header; CKernels includes CPUInfo's header).
C_MODULES="CPUInfo CKernels"
C_INCLUDES=""
for module in $C_MODULES; do C_INCLUDES="$C_INCLUDES -I $ROOT/Sources/$module/include"; done
C_OBJECTS=""
for module in $C_MODULES; do
    dir="$OUT/c/$module"
    mkdir -p "$dir"
    header=$(ls "$ROOT/Sources/$module/include/"*.h)
    {
        printf 'module %s {\n' "$module"
        for h in $header; do printf '    header "%s"\n' "$h"; done
        printf '    export *\n}\n'
    } > "$dir/module.modulemap.new"
    cmp -s "$dir/module.modulemap.new" "$dir/module.modulemap" 2>/dev/null \
        || mv "$dir/module.modulemap.new" "$dir/module.modulemap"
    rm -f "$dir/module.modulemap.new"
    for source in "$ROOT/Sources/$module/"*.c; do
        object="$OUT/obj/$module-$(basename "$source" .c).o"
        # shellcheck disable=SC2086
        if stale "$object" "$source" "$ROOT/Sources/$module/"*.h $header; then
            "$CLANG" -O2 -g -fsanitize=fuzzer-no-link,address $C_INCLUDES -c "$source" -o "$object"
        fi
        C_OBJECTS="$C_OBJECTS $object"
    done
    SWIFTFLAGS="$SWIFTFLAGS -I $dir"
done

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
    # shellcheck disable=SC2086
    if stale "$OUT/bin/$harness" "$src" "$OUT/obj/NICCore.o" "$OUT/obj/FFGlue.o" "$ROOT/Tests/fuzz/FuzzSupport.swift" $C_OBJECTS; then
        echo "fuzz build: $harness"
        # shellcheck disable=SC2086
        "$SWIFTC" $SWIFTFLAGS -module-name "$harness" "$src" "$ROOT/Tests/fuzz/FuzzSupport.swift" \
            "$OUT/obj/NICCore.o" "$OUT/obj/FFGlue.o" $C_OBJECTS \
            -use-ld=lld $LIBS -o "$OUT/bin/$harness"
    fi
done
