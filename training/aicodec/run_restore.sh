#!/bin/sh
# The 1x restoration nets (train_restore.py; nets.ScalerNet scale "1": x264's full-resolution decode
# -> the source's luma, 1,440 MACs per pixel), one per x264 bucket, each trained from scratch on
# 8-frame camera pans of training crops coded by real x264 at the bucket's CRFs, then exported to
# models/x1r_BUCKET_up.safetensors. Resumable: rerun to continue.
#   sh training/aicodec/run_restore.sh        (from anywhere)
# Measured with eval_restore.py (docs/decisions/aicodec-training.md, "1x restoration").
set -e
cd "$(dirname "$0")/../.."
T="python3 training/aicodec/train_restore.py"
R=training/runs
mkdir -p $R
[ -f $R/x1r_mid/final.pt ] || $T --bucket mid --steps 1400 --out $R/x1r_mid >> $R/x1r_mid.out 2>&1
[ -f $R/x1r_low/final.pt ] || $T --bucket low --steps 1400 --out $R/x1r_low >> $R/x1r_low.out 2>&1
for b in mid low; do
  python3 training/aicodec/export.py $R/x1r_$b --name x1r_$b --out $R --no-validate
  cp $R/x1r_${b}_up.safetensors models/
done
