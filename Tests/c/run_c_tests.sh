#!/bin/sh
# Builds the C example and the C API test against the installed copy in PREFIX
# (found with pkg-config, as a user would) and runs them.
set -eu
name=ctest
. "$(dirname "$0")/setup.sh"

make --no-print-directory -B -C "$root/examples/c" BUILDDIR="$out"
cc -std=c99 -Wall -Wextra -Werror -pedantic -o "$out/api_test" "$here/api_test.c" $(pkg-config --cflags --libs nic)
"$out/api_test"
cc -std=c99 -Wall -Wextra -Werror -pedantic -o "$out/frame_test" "$here/frame_test.c" $(pkg-config --cflags --libs nic libavutil)
"$out/frame_test"

# The player example on a clip AI-encoded by the installed tool: every frame upscaled by its AI data.
ffmpeg -v error -y -f lavfi -i testsrc2=s=256x144:r=25:d=1 -c:v libx264 -preset ultrafast "$out/clip.mp4"
"$prefix/bin/nic" ai-encode "$out/clip.mp4" "$out/small.mp4" --scale 2 --crf 30 --preset ultrafast > /dev/null
# Bad options and damaged video through the C API: FFmpeg's messages reach the log callback, not stderr.
"$out/api_test" "$out/small.mp4" "$out" 2> "$out/api_test.stderr" > /dev/null ||
  { echo "FAIL: api_test (video)"; cat "$out/api_test.stderr"; exit 1; }
[ ! -s "$out/api_test.stderr" ] || { echo "FAIL: the library printed to stderr:"; head -5 "$out/api_test.stderr"; exit 1; }
"$out/player" "$out/small.mp4" "$out/player.y4m" --threads 1 > "$out/player.log"
# The key frame carries the AI data; the frames after it keep it.
[ "$(grep -c "^frame .* 256x144 setting [1-9].* aidata \(present\|absent\) " "$out/player.log")" -eq 25 ] &&
  grep -q "^frame 0 .* 256x144 setting [1-9].* aidata present " "$out/player.log" ||
  { echo "FAIL: player did not AI-upscale 25 frames"; cat "$out/player.log"; exit 1; }
[ "$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames,width -of csv=p=0 "$out/player.y4m")" = "256,25" ] ||
  { echo "FAIL: player Y4M is not 25 frames of 256 pixels"; exit 1; }
"$out/player" "$out/clip.mp4" --size 300x200 > "$out/player.log"   # no AI data: fallback, still every frame
[ "$(grep -c "300x200 .*aidata absent fallback" "$out/player.log")" -eq 25 ] || { echo "FAIL: player fallback"; exit 1; }
if "$out/player" "$out/missing.mp4" 2>/dev/null; then echo "FAIL: player accepted a missing file"; exit 1; fi

# The transcode example: AI-upscaled video re-encoded, audio copied, every frame kept.
ffmpeg -v error -y -f lavfi -i testsrc2=s=256x144:r=25:d=1 -f lavfi -i sine=d=1 -c:v libx264 -preset ultrafast -c:a aac "$out/av.mkv"
"$prefix/bin/nic" ai-encode "$out/av.mkv" "$out/av_small.mkv" --scale 2 --crf 30 --preset ultrafast > /dev/null
"$out/transcode" "$out/av_small.mkv" "$out/av_back.mp4" --preset ultrafast --threads 1 > /dev/null
streams() { ffprobe -v error -show_entries stream=codec_type,width -of csv=p=0 "$1" | tr '\n' ' '; }
[ "$(streams "$out/av_back.mp4")" = "video,256 audio " ] || { echo "FAIL: transcode streams: $(streams "$out/av_back.mp4")"; exit 1; }
[ "$(ffprobe -v error -select_streams v -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$out/av_back.mp4")" = 25 ] ||
  { echo "FAIL: transcode lost frames"; exit 1; }

# The example on a generated 64x48 PPM: upscale to 100x75 and check the output header and size.
python3 - "$out/in.ppm" <<'PY'
import sys
w, h = 64, 48
pixels = bytes(((x * 4) & 255, (y * 5) & 255, ((x + y) * 3) & 255)[c] for y in range(h) for x in range(w) for c in range(3))
open(sys.argv[1], "wb").write(b"P6\n%d %d\n255\n" % (w, h) + pixels)
PY
"$out/resize" "$out/in.ppm" "$out/out.ppm" 100 75 lanczos
head -c 15 "$out/out.ppm" | grep -q "P6" || { echo "FAIL: resize wrote no PPM"; exit 1; }
size=$(wc -c < "$out/out.ppm")
[ "$size" -eq $((100 * 75 * 3 + 14)) ] || { echo "FAIL: resize output has $size bytes"; exit 1; }
if "$out/resize" "$out/missing.ppm" "$out/x.ppm" 10 10 2>/dev/null; then echo "FAIL: missing input accepted"; exit 1; fi
echo "C example and API tests passed"
