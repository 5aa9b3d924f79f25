#!/bin/sh
# Smoke tests of the installed `nic` tool: success paths and clear failures on bad input.
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
"$nic" version | grep -q "^nic 0.1.0" || fail "nic version"
"$nic" version --json | python3 -c "import json,sys; assert json.load(sys.stdin)['version'] == '0.1.0'"

"$nic" demo --output-directory "$dir/demo" --json > "$dir/demo.json"
python3 - "$dir/demo.json" <<'PY'
import json, sys
routes = json.load(open(sys.argv[1]))["routes"]
assert routes["lanczos"]["psnr_db"] > 25 and routes["bicubic"]["psnr_db"] > 25, routes
PY

png="$dir/demo/original.png"
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
expect_failure resize "$png" "$dir/x.png" --scale 2 --method nearest
expect_failure resize "$png" "$dir/x.tga" --scale 2
expect_failure resize "$png" "$dir/no-such-dir/x.png" --scale 2
expect_failure bench conv --threads -1
echo "CLI tests passed"
