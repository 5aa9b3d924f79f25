#!/bin/sh
# The C API tests and the player example under valgrind memcheck, against the installed copy in
# PREFIX: no invalid read or write, no use of uninitialised memory, no definite leak.
set -eu
name=valgrind
. "$(dirname "$0")/setup.sh"
command -v valgrind > /dev/null || { echo "valgrind is not installed"; exit 1; }

make --no-print-directory -B -C "$root/examples/c" BUILDDIR="$out" > /dev/null
cc -std=c99 -g -O1 -o "$out/api_test" "$here/api_test.c" $(pkg-config --cflags --libs nic)
cc -std=c99 -g -O1 -o "$out/frame_test" "$here/frame_test.c" $(pkg-config --cflags --libs nic libavutil)
ffmpeg -v error -y -f lavfi -i testsrc2=s=128x72:r=25:d=0.4 -c:v libx264 -preset ultrafast "$out/clip.mp4"
"$prefix/bin/nic" ai-encode "$out/clip.mp4" "$out/small.mp4" --scale 2 --crf 30 --preset ultrafast > /dev/null

# valgrind 3.19 cannot read the DWARF 5 debug information of the Swift toolchain's objects: run
# against a copy of the library without it (symbols stay, so reports still name functions).
mkdir -p "$out/lib"
objcopy --strip-debug "$prefix/lib/libnic.so.0" "$out/lib/libnic.so.0"
export LD_LIBRARY_PATH="$out/lib"

memcheck() {
  name=$1; shift
  if ! valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
       --show-leak-kinds=definite --track-origins=yes "$@" > "$out/$name.out" 2> "$out/$name.valgrind"; then
    echo "FAIL: valgrind memcheck of $name"; head -60 "$out/$name.valgrind"; exit 1
  fi
  echo "valgrind memcheck: $name clean"
}
memcheck api_test "$out/api_test" "$out/small.mp4" "$out"
memcheck frame_test "$out/frame_test"
memcheck player "$out/player" "$out/small.mp4" "$out/player.y4m" --threads 1
