#!/bin/sh
# Smoke tests of the installed `nic` tool (with the installed models): success paths and
# clear failures on bad input.
set -eu
nic="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Expects a non-zero exit and an error message on stderr.
expect_failure() {
  if "$nic" "$@" >"$dir/stdout" 2>"$dir/stderr"; then fail "nic $* succeeded"; fi
  [ -s "$dir/stderr" ] || fail "nic $* printed no error message"
}

"$nic" --help >/dev/null
header=$(dirname "$0")/../../include/nic.h
version=$(awk '/^#define NIC_VERSION_(MAJOR|MINOR|PATCH) /{printf "%s%s", s, $3; s="."}' "$header")
"$nic" version | grep -q "^nic $version" || fail "nic version is not nic.h's $version"
"$nic" version --json | python3 -c "import json,sys; assert json.load(sys.stdin)['version'] == '$version'"

"$nic" demo --output-directory "$dir/demo" --qualities 30 --qualities 60 --qualities 90 --media image --json > "$dir/demo.json"
python3 - "$dir/demo.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["ai"]) == 3 and len(d["bicubic"]) == 3, d
assert all(p["psnr_db"] > 20 and p["bytes"] > 0 for p in d["ai"] + d["bicubic"]), d
# Full resolution at the same qualities plus 2, 5 and 10, so that its curve reaches the AI route's rates.
assert sorted(p["quality"] for p in d["full_resolution"]) == [2, 5, 10, 30, 60, 90], d
assert len(d["gain_db_over_full_resolution_at_equal_bytes"]) >= 1, d
PY

"$nic" demo --output-directory "$dir/vdemo" --media video --video-size 320x192 --frames 10 --bitrate 300k --json > "$dir/vdemo.json"
python3 - "$dir/vdemo.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))["video"]
assert [r["route"] for r in v] == ["ai", "bicubic", "full"] and v[0]["setting_id"] > 0 and v[2]["setting_id"] is None, v
assert all(r["psnr_y_db"] > 15 and r["bytes"] > 0 for r in v), v
PY
[ -s "$dir/vdemo/ai_small.mp4" ] && [ -s "$dir/vdemo/ai_decoded.y4m" ] && [ -s "$dir/vdemo/full.mp4" ] || fail "video demo outputs missing"

png="$dir/demo/original.png"

# The still-image AI codec through the tool: every codec, AI data in the file, round trip.
"$nic" settings --json | python3 -c "import json,sys; s=json.load(sys.stdin)['settings']; assert s and all('id' in x and 'scale' in x for x in s)"
for ext in jpg webp png; do
  "$nic" ai-encode "$png" "$dir/small.$ext" --quality 60 --scale 2 --json > "$dir/enc.json"
  "$nic" info "$dir/small.$ext" --json | python3 -c "
import json,sys; i=json.load(sys.stdin)
assert i['ai_data_status'] == 'present' and i['width'] == 640 and i['original_width'] == 1280 and i['scale'] == 2, i"
  "$nic" ai-decode "$dir/small.$ext" "$dir/back_$ext.png" --json 2> "$dir/stderr" | python3 -c "
import json,sys; r=json.load(sys.stdin); assert r['fallback_reason'] is None and r['width'] == 1280, r"
  [ ! -s "$dir/stderr" ] || fail "ai-decode of a clean $ext warned: $(cat "$dir/stderr")"
done
# Encoder-side refinement (JPEG): reported, and the file decodes like any other.
"$nic" ai-encode "$png" "$dir/refined.jpg" --quality 60 --scale 2 --refine 3 --json | python3 -c "
import json,sys; r=json.load(sys.stdin)['refinement']; assert r['steps'] == 3 and r['lambda'] > 0, r"
"$nic" ai-decode "$dir/refined.jpg" "$dir/refined.png" --json | python3 -c "
import json,sys; r=json.load(sys.stdin); assert r['fallback_reason'] is None and r['width'] == 1280, r"
expect_failure ai-encode "$png" "$dir/x.jpg" --quality 60 --refine -1
# downscale stores the small image as PNG whatever codec will code it (here JPEG, refined for it).
"$nic" downscale "$png" "$dir/for_jpeg.png" --codec jpeg --quality 60 --scale 2 --refine 2 --json | python3 -c "
import json,sys; r=json.load(sys.stdin); assert r['refinement']['steps'] == 2 and r['setting_id'] > 0, r"
head -c 8 "$dir/for_jpeg.png" | od -An -c | grep -q "P   N   G" || fail "downscale --codec jpeg did not write a PNG"
"$nic" downscale "$png" "$dir/for_x265.png" --codec x265 --quality 30 --scale 2
"$nic" upscale "$dir/for_x265.png" "$dir/up.png" --json | python3 -c "import json,sys; r=json.load(sys.stdin); assert r['fallback_reason'] is None, r"
"$nic" resize "$png" "$dir/plain_half.png" --scale 0.5
"$nic" upscale "$dir/plain_half.png" "$dir/up2.png" --size 1280x720 2> "$dir/stderr" || fail "upscale without AI data failed"
grep -q "no AI data" "$dir/stderr" || fail "upscale without AI data gave no warning"
"$nic" upscale "$dir/plain_half.png" "$dir/up3.png" --size 1280x720 --method bicubic
# LIFF: any factor from 1 to 4 per axis (here x2.5 by x1.5, odd sizes), whatever the AI data.
"$nic" upscale "$dir/plain_half.png" "$dir/liff.png" --size 1601x541 --method liff --json | python3 -c "
import json,sys; r=json.load(sys.stdin); assert r['route'] == 'liff' and r['fallback_reason'] is None and r['width'] == 1601, r"
[ -s "$dir/liff.png" ] || fail "upscale --method liff wrote nothing"
expect_failure upscale "$dir/plain_half.png" "$dir/x.png" --size 2561x720 --method liff
grep -q "1 to 4" "$dir/stderr" || fail "LIFF beyond x4: $(cat "$dir/stderr")"
expect_failure upscale "$dir/plain_half.png" "$dir/x.png" --size 639x720 --method liff
expect_failure upscale "$dir/plain_half.png" "$dir/x.png" --size 1280x720 --method nearest
# Damaged AI data: decoding still succeeds, with a warning.
python3 - "$dir/small.png" "$dir/damaged.png" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
i = data.index(b"nicai1:") + 20
data[i] = ord("0") if data[i] != ord("0") else ord("1")
open(sys.argv[2], "wb").write(bytes(data))
PY
"$nic" ai-decode "$dir/damaged.png" "$dir/damaged_out.png" 2> "$dir/stderr" || fail "damaged AI data broke decoding"
grep -qi "warning" "$dir/stderr" || fail "damaged AI data gave no warning"
expect_failure ai-encode "$png" "$dir/x.jpg" --setting 31337
expect_failure ai-encode "$png" "$dir/x.bmp"
expect_failure upscale "$png" "$dir/x.png" --setting 31337
expect_failure settings --models /nonexistent
"$nic" resize "$png" "$dir/half.png" --scale 0.5
"$nic" resize "$png" "$dir/big.jpg" --size 1921x1081 --method lanczos --quality 80
"$nic" resize "$dir/big.jpg" "$dir/back.png" --size 640x360 --threads 1
[ -s "$dir/half.png" ] && [ -s "$dir/big.jpg" ] && [ -s "$dir/back.png" ] || fail "resize wrote nothing"

expect_failure resize "$dir/missing.png" "$dir/x.png" --scale 2
grep -q "missing.png" "$dir/stderr" || fail "missing-file message does not name the file"
head -c 100 /dev/urandom > "$dir/noise.png"
expect_failure resize "$dir/noise.png" "$dir/x.png" --scale 2
head -c 300 "$png" > "$dir/truncated.png"
expect_failure resize "$dir/truncated.png" "$dir/x.png" --scale 2
: > "$dir/empty.png"
expect_failure resize "$dir/empty.png" "$dir/x.png" --scale 2
expect_failure resize "$png" "$dir/x.png"
expect_failure resize "$png" "$dir/x.png" --scale 2 --size 10x10
expect_failure resize "$png" "$dir/x.png" --size 0x10
expect_failure resize "$png" "$dir/x.png" --scale -1
expect_failure resize "$png" "$dir/x.png" --scale 100
# A scale that keeps both sides within 16384 but the picture over the 16000x16000 budget.
"$nic" resize "$png" "$dir/p100.png" --size 100x100
expect_failure resize "$dir/p100.png" "$dir/x.png" --scale 163.84
grep -q "exceeds the limit" "$dir/stderr" || fail "an over-budget resize is not refused by the size limit: $(cat "$dir/stderr")"
expect_failure resize "$png" "$dir/x.png" --scale 2 --method nearest
expect_failure resize "$png" "$dir/x.tga" --scale 2
expect_failure resize "$png" "$dir/no-such-dir/x.png" --scale 2
expect_failure bench conv --threads -1
# Precision: a setting with int8 ranges runs and reports int8 when asked; bf16 runs and reports
# bf16 on a CPU with AVX512_BF16 and is refused naming it elsewhere; int8 for a network without
# ranges is refused with its reason.
"$nic" bench upscale --setting 7 --size 64x48 --frames 1 --threads 1 --precision int8 --json | tail -1 | python3 -c "
import json, sys; r = json.load(sys.stdin); assert r['precision'] == 'int8' and r['precision_reason'] and r['peak_gflops'] > 0, r"
if grep -q avx512_bf16 /proc/cpuinfo; then
    "$nic" bench upscale --setting 4 --size 64x48 --frames 1 --threads 1 --precision bf16 --json | tail -1 | python3 -c "
import json, sys; r = json.load(sys.stdin); assert r['precision'] == 'bf16' and r['precision_reason'] == 'bf16 requested', r"
else
    expect_failure bench upscale --setting 7 --size 64x48 --frames 1 --precision bf16
    grep -q "AVX512_BF16" "$dir/stderr" || fail "--precision bf16: $(cat "$dir/stderr")"
fi
expect_failure bench upscale --setting 1 --size 64x48 --frames 1 --precision int8
grep -q "no calibrated int8 ranges" "$dir/stderr" || fail "int8 without ranges: $(cat "$dir/stderr")"

# The neural image codec: round trip, same pixels for 1 and 2 threads and for the debug
# build (when `swift build` made one beside the release build), clear failures.
"$nic" encode "$png" "$dir/n.nic" --quality 40 > "$dir/stdout"
grep -q "bpp" "$dir/stdout" || fail "nic encode printed no rate"
"$nic" decode "$dir/n.nic" "$dir/n1.png" --threads 1
"$nic" decode "$dir/n.nic" "$dir/n2.png" --threads 2
cmp -s "$dir/n1.png" "$dir/n2.png" || fail "nic decode differs between 1 and 2 threads"
debug_nic="$(dirname "$0")/../../.build/debug/nic"
if [ -x "$debug_nic" ]; then
  NIC_MODEL_DIR="$(dirname "$nic")/../share/nic" "$debug_nic" decode "$dir/n.nic" "$dir/nd.png"
  cmp -s "$dir/n1.png" "$dir/nd.png" || fail "debug and release builds decode different pixels"
  echo "debug and release builds decode identical pixels"
fi
"$nic" bench codec "$png" --quality 40 --repeats 1 --json | tail -1 > "$dir/bench1.json"
"$nic" bench codec "$png" --quality 40 --repeats 2 --no-warmup --json | tail -1 > "$dir/bench2.json"
python3 - "$dir/bench1.json" "$dir/bench2.json" <<'PY'
import json, sys
r, n = (json.load(open(p)) for p in sys.argv[1:])
assert r['bpp'] > 0 and r['psnr'] > 20 and r['decode_ms'] > 0 and r['warmup'] and r['repeats'] == 1, r
assert not n['warmup'] and n['repeats'] == 2 and n['bytes'] == r['bytes'] and n['encode_ms'] > 0, n
PY
# A file coded with the layered base (the record before) decodes with the installed models.
models="$(dirname "$nic")/../share/nic"
python3 "$(dirname "$0")/../support/layered_base_models.py" "$models" "$dir/basemodels"
"$nic" encode "$png" "$dir/b.nic" --quality 40 --models "$dir/basemodels" > /dev/null
"$nic" decode "$dir/b.nic" "$dir/b1.png" --models "$dir/basemodels"
"$nic" decode "$dir/b.nic" "$dir/b2.png"
cmp -s "$dir/b1.png" "$dir/b2.png" || fail "a file of the layered base decodes differently with the installed models"
cmp -s "$dir/n.nic" "$dir/b.nic" && fail "the layered base coded the same file as the record"
head -c 100 "$dir/n.nic" > "$dir/cut.nic"
expect_failure decode "$dir/cut.nic" "$dir/x.png"
grep -q "checksum\|shorter" "$dir/stderr" || fail "truncated .nic: $(cat "$dir/stderr")"
expect_failure decode "$png" "$dir/x.png"
grep -q "not a .nic file" "$dir/stderr" || fail "PNG given to decode: $(cat "$dir/stderr")"
expect_failure encode "$png" "$dir/x.nic" --quality 0
expect_failure encode "$dir/missing.png" "$dir/x.nic"
expect_failure encode "$png" "$dir/x.nic" --substitute 2 --block 24
grep -q "multiple of 16" "$dir/stderr" || fail "bad --block: $(cat "$dir/stderr")"
expect_failure encode "$png" "$dir/x.nic" --dsq 6
grep -q "4 or 8 states" "$dir/stderr" || fail "--dsq 6: $(cat "$dir/stderr")"
[ ! -e "$dir/x.nic" ] || fail "a refused encode wrote its output"
# Effort 0 codes on the integer grid with 8 states: version 2, flags 6; without the trellis
# flags 4, the same pixels for 1 and 2 threads; on the means' grid flags 2, and with --dsq 0 as
# well a version 1 file. (Flag bit 3, the channel flags, depends on the image: left out.)
flags() { od -An -tu1 -j4 -N4 "$1" | awk '{f = $4; if (int(f / 8) % 2 == 1) f -= 8; print $1, f}'; }
[ "$(flags "$dir/n.nic")" = "2 6" ] || fail "effort 0 did not write version 2, flags 6: $(flags "$dir/n.nic")"
"$nic" encode "$png" "$dir/g.nic" --quality 40 --dsq 0 > "$dir/stdout"
[ "$(flags "$dir/g.nic")" = "2 4" ] || fail "--dsq 0 did not write version 2, flags 4"
"$nic" encode "$png" "$dir/m.nic" --quality 40 --no-grid > "$dir/stdout"
[ "$(flags "$dir/m.nic")" = "2 2" ] || fail "--no-grid did not write version 2, flags 2"
"$nic" encode "$png" "$dir/m.nic" --quality 40 --no-grid --dsq 0 > "$dir/stdout"
[ "$(flags "$dir/m.nic")" = "1 0" ] || fail "--no-grid --dsq 0 did not write version 1"
"$nic" decode "$dir/g.nic" "$dir/g1.png" --threads 1
"$nic" decode "$dir/g.nic" "$dir/g2.png" --threads 2
cmp -s "$dir/g1.png" "$dir/g2.png" || fail "a grid file decodes differently on 1 and 2 threads"

# Layered .nic files: three sizes in one file, each layer decodable alone, also from a file cut
# after it; `info` lists the layers.
"$nic" resize "$png" "$dir/l.png" --size 301x183
"$nic" encode "$dir/l.png" "$dir/l.nic" --scales 2,1.5 --quality 40 --effort 0 > "$dir/stdout"
grep -q "layers 100x61,201x122,301x183" "$dir/stdout" || fail "layered encode: $(cat "$dir/stdout")"
"$nic" encode "$dir/l.png" "$dir/l2.nic" --layers 100x61,201x122,301x183 --quality 40 --effort 0 > /dev/null
cmp -s "$dir/l.nic" "$dir/l2.nic" || fail "--layers and --scales naming the same sizes code differently"
"$nic" info "$dir/l.nic" | grep -q "layer 1: 201x122" || fail "nic info lists no layers"
"$nic" info "$dir/l.nic" --json > "$dir/linfo.json"
python3 - "$dir/linfo.json" "$dir/l.nic" "$dir/lcut.nic" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
assert i["version"] == 3 and [(l["width"], l["height"]) for l in i["layers"]] == [(100, 61), (201, 122), (301, 183)], i
assert all(l["whole"] for l in i["layers"]) and i["liff_model_id"], i
data = open(sys.argv[2], "rb").read()
header = 16 + 12 * len(i["layers"])
assert header + sum(l["bytes"] for l in i["layers"]) == len(data), i
open(sys.argv[3], "wb").write(data[:header + i["layers"][0]["bytes"] + i["layers"][1]["bytes"]])
PY
"$nic" decode "$dir/l.nic" "$dir/l1.png" --layer 1
"$nic" info "$dir/l1.png" --json | python3 -c "import json,sys; i=json.load(sys.stdin); assert (i['width'], i['height']) == (201, 122), i"
"$nic" decode "$dir/l.nic" "$dir/ltop.png"
"$nic" info "$dir/ltop.png" --json | python3 -c "import json,sys; i=json.load(sys.stdin); assert (i['width'], i['height']) == (301, 183), i"
"$nic" decode "$dir/lcut.nic" "$dir/lcut1.png" --layer 1
cmp -s "$dir/l1.png" "$dir/lcut1.png" || fail "layer 1 of a file cut after it differs"
"$nic" info "$dir/lcut.nic" | grep -q "layer 2: 301x183.*missing" || fail "nic info of a cut file: $("$nic" info "$dir/lcut.nic")"
expect_failure decode "$dir/lcut.nic" "$dir/x.png"
grep -q "layer 2 is missing" "$dir/stderr" || fail "decode of a cut layered file: $(cat "$dir/stderr")"
expect_failure decode "$dir/l.nic" "$dir/x.png" --layer 3
grep -q "layers 0...2" "$dir/stderr" || fail "decode --layer 3: $(cat "$dir/stderr")"
expect_failure decode "$dir/n.nic" "$dir/x.png" --layer 1
expect_failure decode "$dir/l.nic" "$dir/x.png" --layer -1
expect_failure encode "$dir/l.png" "$dir/x.nic" --layers 100x61,201x122
grep -q "picture's size" "$dir/stderr" || fail "--layers without the input's size: $(cat "$dir/stderr")"
expect_failure encode "$dir/l.png" "$dir/x.nic" --layers 60x61,301x183
grep -q "more than 4 times" "$dir/stderr" || fail "--layers with a factor above 4: $(cat "$dir/stderr")"
expect_failure encode "$dir/l.png" "$dir/x.nic" --layers 201x122,100x61,301x183
expect_failure encode "$dir/l.png" "$dir/x.nic" --layers 100x61,201
expect_failure encode "$dir/l.png" "$dir/x.nic" --scales 5
expect_failure encode "$dir/l.png" "$dir/x.nic" --scales 2,x
expect_failure encode "$dir/l.png" "$dir/x.nic" --scales 2 --layers 150x92,301x183
[ ! -e "$dir/x.nic" ] || fail "a refused layered encode wrote its output"
# Several bands of the synthesis and of LIFF: the same file and pixels with 1 and 2 threads.
"$nic" encode "$png" "$dir/lb1.nic" --layers 640x360,1280x720 --quality 30 --threads 1 > /dev/null
"$nic" encode "$png" "$dir/lb2.nic" --layers 640x360,1280x720 --quality 30 --threads 2 > /dev/null
cmp -s "$dir/lb1.nic" "$dir/lb2.nic" || fail "layered encode differs between 1 and 2 threads"
"$nic" decode "$dir/lb1.nic" "$dir/lb1.png" --threads 1
"$nic" decode "$dir/lb1.nic" "$dir/lb2.png" --threads 2
cmp -s "$dir/lb1.png" "$dir/lb2.png" || fail "layered decode differs between 1 and 2 threads"

# Video: a generated clip with audio, subtitles and a title; AI data in every frame's SEI;
# every frame, timestamp and other stream kept (compared with ffprobe).
printf '1\n00:00:00,200 --> 00:00:01,000\nhello\n\n2\n00:00:01,200 --> 00:00:01,800\nworld\n' > "$dir/subs.srt"
ffmpeg -v error -y -f lavfi -i testsrc2=s=320x180:r=25:d=2 -f lavfi -i sine=d=2 -i "$dir/subs.srt" -map 0 -map 1 -map 2 \
  -c:v libx264 -crf 18 -preset ultrafast -c:a aac -c:s srt -metadata title=cliptitle "$dir/src.mkv"
probe() {  # stream types, video frame timestamps and title of a file, one line each
  ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$1" | tr '\n' ' '; echo
  ffprobe -v error -select_streams v -show_entries frame=best_effort_timestamp_time -of json "$1" |
    python3 -c "import json,sys; print([f['best_effort_timestamp_time'] for f in json.load(sys.stdin)['frames']])"
  ffprobe -v error -show_entries format_tags=title -of csv=p=0 "$1"
}
"$nic" ai-encode "$dir/src.mkv" "$dir/small.mkv" --scale 2 --crf 30 --preset ultrafast --json > "$dir/venc.json"
"$nic" ai-decode "$dir/small.mkv" "$dir/back.mkv" --preset ultrafast --json > "$dir/vdec.json" 2> "$dir/stderr"
[ ! -s "$dir/stderr" ] || fail "ai-decode of a clean stream warned: $(cat "$dir/stderr")"
probe "$dir/src.mkv" > "$dir/src.probe"
for f in small back; do
  probe "$dir/$f.mkv" > "$dir/$f.probe"
  cmp -s "$dir/src.probe" "$dir/$f.probe" || fail "$f.mkv lost streams, frames, timestamps or metadata: $(diff "$dir/src.probe" "$dir/$f.probe")"
done
"$nic" info "$dir/small.mkv" --json | python3 -c "
import json,sys; i=json.load(sys.stdin); f=i['frames']
assert i['kind'] == 'video' and i['width'] == 160 and len(f) == 50, i
assert f[0]['ai_data_status'] == 'present' and all(x['ai_data_status'] in ('present', 'absent') for x in f), f[:2]
assert all(x['setting_id'] > 0 and x['original_width'] == 320 for x in f if x['ai_data_status'] == 'present'), f[0]
assert [x['pts'] for x in f] == sorted(x['pts'] for x in f)"
python3 -c "
import json,sys; d=json.load(open('$dir/vdec.json')); assert d['frames'] == 50 and d['width'] == 320 and d['copied_streams'] == 2, d
assert list(d['routes']) == ['setting %d' % json.load(open('$dir/venc.json'))['setting_id']], d"
"$nic" ai-decode "$dir/small.mkv" "$dir/back.y4m" 2> /dev/null
[ "$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames,width -of csv=p=0 "$dir/back.y4m")" = "320,50" ] ||
  fail "y4m output is not 50 frames of 320 pixels"
"$nic" ai-decode "$dir/small.mkv" "$dir/frame_%03d.png" 2> /dev/null
[ "$(ls "$dir"/frame_*.png | wc -l)" -eq 50 ] || fail "PNG frames output did not write 50 files"
"$nic" info "$dir/frame_050.png" --json | python3 -c "import json,sys; i=json.load(sys.stdin); assert i['width'] == 320, i"
expect_failure ai-decode "$dir/small.mkv" "$dir/frame.png"
"$nic" ai-encode "$dir/src.mkv" "$dir/small265.mkv" --codec libx265 --bitrate 200k --preset ultrafast
"$nic" info "$dir/small265.mkv" --json | python3 -c "
import json,sys; f=json.load(sys.stdin)['frames']
present = [x for x in f if x['ai_data_status'] == 'present']
assert len(f) == 50 and f[0] in present, f[:2]
assert all(x['codec'] == 5 and x['quality_kind'] == 4 and x['quality_value'] == 200 for x in present), f[0]"
# Variable frame rate (25 then 10 frames/s) keeps its timestamps; a mid-stream size change keeps every frame.
ffmpeg -v error -y -f lavfi -i testsrc2=s=320x180:r=25:d=1.2 -vf "setpts='if(lt(N,10),N/25,0.4+(N-10)/10)/TB'" \
  -fps_mode vfr -c:v libx264 -preset ultrafast "$dir/vfr.mkv"
"$nic" ai-encode "$dir/vfr.mkv" "$dir/vfr_small.mkv" --crf 30 --preset ultrafast > /dev/null
"$nic" ai-decode "$dir/vfr_small.mkv" "$dir/vfr_back.mkv" --preset ultrafast > /dev/null
probe "$dir/vfr.mkv" > "$dir/vfr.probe"
for f in vfr_small vfr_back; do
  probe "$dir/$f.mkv" > "$dir/$f.probe"
  cmp -s "$dir/vfr.probe" "$dir/$f.probe" || fail "$f.mkv changed the variable frame rate: $(diff "$dir/vfr.probe" "$dir/$f.probe")"
done
# Y4M has no timestamps: uneven frame durations (here 36/44 ms, as in a 29.9 frames/s MP4 with a
# 1/16000 time base) must not round two frames onto one frame number.
ffmpeg -v error -y -f lavfi -i testsrc2=s=160x90:r=25:d=2 -vf "setpts='(N*40+if(mod(N,2),4,-4))/1000/TB'" \
  -fps_mode passthrough -c:v libx264 -preset ultrafast -video_track_timescale 16000 "$dir/jitter.mp4"
"$nic" ai-decode "$dir/jitter.mp4" "$dir/jitter.y4m" 2> /dev/null
[ "$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$dir/jitter.y4m")" = "50" ] ||
  fail "y4m output of a stream with uneven frame durations lost frames"
ffmpeg -v error -y -f lavfi -i testsrc2=s=320x180:r=25:d=0.4 -c:v libx264 -preset ultrafast "$dir/a.ts"
ffmpeg -v error -y -f lavfi -i testsrc2=s=256x144:r=25:d=0.4 -c:v libx264 -preset ultrafast -output_ts_offset 0.4 "$dir/b.ts"
cat "$dir/a.ts" "$dir/b.ts" > "$dir/sizes.ts"
"$nic" ai-encode "$dir/sizes.ts" "$dir/sizes_small.mkv" --crf 30 --preset ultrafast --json 2> "$dir/stderr" > "$dir/sizes.json"
grep -q "changes size mid-stream" "$dir/stderr" || fail "no warning about the size change: $(cat "$dir/stderr")"
"$nic" ai-decode "$dir/sizes.ts" "$dir/sizes_up.y4m" --json 2> /dev/null > "$dir/sizes_up.json"
python3 -c "
import json; e=json.load(open('$dir/sizes.json')); d=json.load(open('$dir/sizes_up.json'))
assert e['frames'] == 20 and d['frames'] == 20 and d['width'] == 640, (e, d)"
expect_failure ai-encode "$dir/src.mkv" "$dir/small.mp4" --crf 30   # MP4 cannot hold SubRip
grep -q "use .mkv" "$dir/stderr" || fail "no advice for the subtitle stream: $(cat "$dir/stderr")"
expect_failure ai-encode "$dir/src.mkv" "$dir/x.mkv" --bitrate 2x
expect_failure ai-encode "$dir/src.mkv" "$dir/x.mkv" --codec nosuchcodec
expect_failure ai-decode "$dir/nothing.mp4" "$dir/x.mkv"
ffmpeg -v error -y -f lavfi -i sine=d=1 "$dir/sound.m4a"
expect_failure ai-decode "$dir/sound.m4a" "$dir/x.mkv"
grep -q "no video stream" "$dir/stderr" || fail "audio-only input: $(cat "$dir/stderr")"
# Per-scene setting choice at a target bit rate: a flat scene and a noisy one get different buckets.
ffmpeg -v error -y -f lavfi -i "color=c=0x807060:s=320x192:r=25:d=1" \
  -f lavfi -i "nullsrc=s=320x192:r=25:d=1,geq=lum='random(1)*255':cb=128:cr=128" \
  -filter_complex "[0][1]concat=n=2:v=1,format=yuv420p" -c:v libx264 -crf 5 -preset ultrafast "$dir/scenes.mp4"
"$nic" ai-encode "$dir/scenes.mp4" "$dir/scenes_small.mp4" --scale 2 --bitrate 40k --preset ultrafast --json > "$dir/scenes.json"
"$nic" info "$dir/scenes_small.mp4" --json > "$dir/scenes_info.json"
python3 - "$dir/scenes.json" "$dir/scenes_info.json" <<'PY'
import json, sys
report, info = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ids, last = [], None
for f in info["frames"]:  # frames without AI data keep the record before them
    last = f["setting_id"] if f["ai_data_status"] == "present" else last
    ids.append(last)
assert report["scenes"] == 2 and len(ids) == 50, report
assert len(set(ids[:25])) == 1 and len(set(ids[26:])) == 1 and ids[0] != ids[-1], ids
PY
# --scale auto (the default for video): one scale per stream from trial encodes. Fresh noise at a
# high rate stays at full resolution, slow gradients at a very low rate are downscaled; either
# output plays every frame and decodes to the original size; --scale 2 still forces x2.
ffmpeg -v error -y -f lavfi -i "nullsrc=s=256x144:r=25:d=1,geq=lum='random(1)*255':cb=128:cr=128" \
  -c:v libx264 -crf 0 -preset ultrafast "$dir/noise.mkv"
ffmpeg -v error -y -f lavfi -i "nullsrc=s=256x144:r=25:d=1,geq=lum='64+(X+N)/3+Y/2':cb=128:cr=128" \
  -c:v libx264 -crf 0 -preset ultrafast "$dir/smooth.mkv"
"$nic" ai-encode "$dir/noise.mkv" "$dir/noise_auto.mp4" --crf 12 --preset ultrafast --json > "$dir/noise.json"
"$nic" ai-encode "$dir/smooth.mkv" "$dir/smooth_auto.mp4" --scale auto --crf 45 --preset ultrafast --json > "$dir/smooth.json"
"$nic" ai-encode "$dir/noise.mkv" "$dir/noise_x2.mp4" --scale 2 --crf 12 --preset ultrafast --json > "$dir/noise_x2.json"
python3 - "$dir/noise.json" "$dir/smooth.json" "$dir/noise_x2.json" <<'PY'
import json, sys
noise, smooth, forced = (json.load(open(p)) for p in sys.argv[1:])
for r in (noise, smooth):
    c = r["scale_choice"]
    assert [t["scale"] for t in c["trials"]] == [1, 1.5, 2] and c["criterion"] == "cost", c
    assert all(t["bits"] > 0 and t["sse"] > 0 and t["psnr_y"] > 10 and "cost" in t for t in c["trials"]), c
assert noise["scale_choice"]["scale"] == 1 and noise["scale_choice"]["setting_id"] == 0, noise
assert noise["width"] == 256 and noise["routes"] == {"unscaled": 25} and "setting_id" not in noise, noise
assert smooth["scale_choice"]["scale"] > 1 and smooth["width"] < 256, smooth
assert smooth["setting_id"] == smooth["scale_choice"]["setting_id"] > 0, smooth
assert "scale_choice" not in forced and forced["width"] == 128, forced
PY
for f in noise_auto smooth_auto; do
  [ "$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$dir/$f.mp4")" = "25" ] ||
    fail "$f.mp4 does not hold the input's 25 frames"
  "$nic" ai-decode "$dir/$f.mp4" "$dir/$f.y4m" --json 2> "$dir/stderr" > "$dir/$f.dec.json"
  [ ! -s "$dir/stderr" ] || fail "ai-decode of $f.mp4 warned: $(cat "$dir/stderr")"
  python3 -c "import json; d=json.load(open('$dir/$f.dec.json')); assert d['width'] == 256 and d['frames'] == 25, d"
done

# Outputs: never the input, replaced only on success, options checked before anything is written.
ffmpeg -v error -y -f lavfi -i testsrc2=s=256x144:r=25:d=2 -c:v libx264 -preset ultrafast "$dir/safe.mkv"
"$nic" ai-encode "$dir/safe.mkv" "$dir/safe_small.mkv" --scale 2 --crf 30 --preset ultrafast > /dev/null
cp "$dir/safe_small.mkv" "$dir/safe_copy.mkv"
ln -s "$dir/safe_small.mkv" "$dir/safe_link.mkv"
for out in "$dir/safe_small.mkv" "$dir/safe_link.mkv"; do
  expect_failure ai-decode "$dir/safe_small.mkv" "$out"
  grep -q "is the input file" "$dir/stderr" || fail "output = input not refused: $(cat "$dir/stderr")"
done
cmp -s "$dir/safe_small.mkv" "$dir/safe_copy.mkv" || fail "ai-decode onto its input changed the input"
"$nic" ai-encode "$png" "$dir/safe.jpg" --quality 80 > /dev/null
cp "$dir/safe.jpg" "$dir/safe_copy.jpg"
expect_failure ai-decode "$dir/safe.jpg" "$dir/safe.jpg"
cmp -s "$dir/safe.jpg" "$dir/safe_copy.jpg" || fail "ai-decode onto its input changed the input image"
printf 'earlier' > "$dir/old.mp4"
for crf in 1e9 nan 101 -3; do
  set +e; "$nic" ai-encode "$dir/safe.mkv" "$dir/old.mp4" --scale 2 "--crf=$crf" > /dev/null 2> "$dir/stderr"; code=$?; set -e
  [ "$code" -eq 1 ] || fail "--crf $crf exited with $code (expected 1): $(cat "$dir/stderr")"
  grep -q "crf" "$dir/stderr" || fail "--crf $crf: no message about crf"
done
expect_failure ai-decode "$dir/safe_small.mkv" "$dir/raw.y4m" --preset ultrafast
grep -q "raw frames" "$dir/stderr" || fail "--preset with a .y4m output: $(cat "$dir/stderr")"
[ "$(cat "$dir/old.mp4")" = earlier ] || fail "a refused job changed the earlier output"
# Killed while writing, and a full disk: the earlier output stays, no partial file appears.
# The job is killed once its progress shows frames written and not done (a 20 s clip).
ffmpeg -v error -y -f lavfi -i testsrc2=s=128x72:r=25:d=20 -c:v libx264 -preset ultrafast "$dir/long.mkv"
touch "$dir/kill.jsonl"
ls -a "$dir" > "$dir/listing.before"
"$nic" ai-decode "$dir/long.mkv" "$dir/old.mp4" --preset veryslow --progress json > /dev/null 2> "$dir/kill.jsonl" &
pid=$!
i=0
until grep -q '"done":false' "$dir/kill.jsonl" 2>/dev/null && grep '"done":false' "$dir/kill.jsonl" | grep -qv '"frames_done":0'; do
  i=$((i + 1)); [ "$i" -lt 600 ] || fail "no progress from the job to kill"; sleep 0.05
done
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
grep -q '"done":true' "$dir/kill.jsonl" && fail "the job finished before it was killed"
[ "$(cat "$dir/old.mp4")" = earlier ] || fail "a killed job changed the earlier output"
(ulimit -f 20; "$nic" ai-decode "$dir/safe_small.mkv" "$dir/old.mp4" --preset ultrafast > /dev/null 2> "$dir/stderr") &&
  fail "a job over the file-size limit succeeded"
grep -q "File too large\|cannot write" "$dir/stderr" || fail "file-size limit: $(cat "$dir/stderr")"
[ "$(cat "$dir/old.mp4")" = earlier ] || fail "a job that ran out of space changed the earlier output"
ls -a "$dir" > "$dir/listing.after"
diff "$dir/listing.before" "$dir/listing.after" | grep -v "listing" | grep -q "^[<>]" && fail "partial files left: $(diff "$dir/listing.before" "$dir/listing.after")"
# Progress for services: JSON lines on stderr, the last one done with every frame.
"$nic" ai-decode "$dir/safe_small.mkv" "$dir/progress.y4m" --progress json > /dev/null 2> "$dir/progress.jsonl"
python3 - "$dir/progress.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert lines and lines[-1]["done"] and lines[-1]["frames_done"] == 50 and lines[-1]["frames_expected"] == 50, lines
PY
"$nic" ai-decode "$dir/safe_small.mkv" "$dir/progress.y4m" --progress json --quiet > /dev/null 2> "$dir/stderr"
[ ! -s "$dir/stderr" ] || fail "--quiet printed: $(cat "$dir/stderr")"
# A damaged video is reported as a video, not as "not an image".
head -c 3000 "$dir/safe.mkv" | tail -c 2000 > "$dir/broken.mp4"
expect_failure ai-decode "$dir/broken.mp4" "$dir/x.mkv"
grep -q "not an image" "$dir/stderr" && fail "a damaged video was called not an image: $(cat "$dir/stderr")"
# A broken model directory: decoding falls back with a warning (as in the C API), encoding fails.
mkdir -p "$dir/badmodels"; printf '{"settings": [' > "$dir/badmodels/settings.json"
"$nic" upscale "$png" "$dir/nomodel.png" --models "$dir/badmodels" --json 2> "$dir/stderr" > "$dir/nomodel.json" ||
  fail "upscale with a broken model directory failed: $(cat "$dir/stderr")"
grep -q "without AI" "$dir/stderr" || fail "no warning about the broken model directory: $(cat "$dir/stderr")"
python3 -c "import json; r=json.load(open('$dir/nomodel.json')); assert r['route'] == 'lanczos', r"
"$nic" upscale "$png" "$dir/nomodel_liff.png" --models "$dir/badmodels" --method liff --size 1600x900 --json 2> "$dir/stderr" |
  python3 -c "import json,sys; r=json.load(sys.stdin); assert r['route'] == 'lanczos' and 'LIFF' in r['fallback_reason'], r"
expect_failure ai-encode "$png" "$dir/x.jpg" --models "$dir/badmodels"
# Sizes beyond what can be written are refused at once.
expect_failure resize "$png" "$dir/huge.png" --size 16384x16384
grep -q "exceeds the limit" "$dir/stderr" || fail "huge resize: $(cat "$dir/stderr")"
echo "CLI tests passed"
