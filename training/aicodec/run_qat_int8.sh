#!/bin/sh
# Quantisation-aware int8 for the shipped up networks whose post-training ranges lose more than
# 0.05 dB (docs/decisions/int8-inference.md, "Quantisation-aware fine-tuning"). Runs after models/
# holds the float networks (make_settings.py): each qat_int8.py run starts from a setting's shipped
# up network and ship_int8.py puts the result into models/ (separate int8 weights and their learned
# ranges, or ranges alone for the shipped weights), recording the command in the setting's
# "training" as "int8". One thread each; resumable: rerun to continue.
#   sh training/aicodec/run_qat_int8.sh        (from anywhere)
set -e
cd "$(dirname "$0")/../.."
R=training/runs
mkdir -p $R
qat() {
  name=$1; shift
  [ -f $R/$name.shipped ] && return 0
  python3 training/aicodec/qat_int8.py "$@" --out $R/$name >> $R/$name.out 2>&1
  python3 training/aicodec/ship_int8.py $R/$name
  echo done > $R/$name.shipped
}
qat qat10_floor --setting 10 --steps 1500 --lr 3e-4 --lr-final 1e-5 --learn-ranges --range-floor 0.75
qat qat11_floor09 --setting 11 --steps 1500 --lr 3e-4 --lr-final 1e-5 --learn-ranges --range-floor 0.9
qat qat12_floor09 --setting 12 --steps 1500 --lr 3e-4 --lr-final 1e-5 --learn-ranges --range-floor 0.9
qat qat6_floor09 --setting 6 --steps 1500 --lr 3e-4 --lr-final 1e-5 --learn-ranges --range-floor 0.9
qat qat4_lsq5k --setting 4 --steps 5000 --lr 5e-4 --lr-final 1e-5 --learn-ranges
qat qat5_b32 --setting 5 --steps 3000 --batch 32 --lr 5e-4 --lr-final 1e-5 --learn-ranges
# Setting 13: the calibrated ranges of the shipped weights (no steps), its first convolution kept
# out of 8 bits (bf16): docs/decisions/int8-inference.md, "Setting 13: one convolution in bf16".
qat qat13_mixed0 --setting 13 --steps 0 --ranges-only --float-layers 0
