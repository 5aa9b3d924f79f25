#!/bin/sh
# Still-image x1.5 settings for JPEG/WebP with a larger up net than video needs: a fresh 64-channel,
# 6-layer up net (39k MACs per small-image pixel) trained on real JPEG of the shipped x1.5 down net's
# output (models/x15_joint_down.safetensors, all qualities), then fine-tuned per bucket.
# Resumable: rerun to continue.
#   sh training/aicodec/run_x15_still.sh            (from the repository root)
set -e
cd "$(dirname "$0")/../.."
T="nice -n 5 python3 training/aicodec/train.py --scale 1.5 --batch 16 --crop 144 --threads 1 --seed 1"
R=training/runs
mkdir -p $R
[ -f $R/x15s_all/final.pt ] || $T --mode finetune --fresh-up --up-width 64 --up-depth 6 \
    --init models/x15_joint_down.safetensors --qmin 10 --qmax 95 --p-identity 0.15 --steps 4000 \
    --val-every 1000 --out $R/x15s_all >> $R/x15s_all.out 2>&1
for b in low mid high; do
  P=0; [ $b = high ] && P=0.2
  [ -f $R/x15s_$b/final.pt ] || $T --mode finetune --bucket $b --init $R/x15s_all --lr 2e-4 --lr-final 1e-5 \
      --warmup 50 --p-identity $P --steps 400 --val-every 400 --out $R/x15s_$b >> $R/x15s_$b.out 2>&1
done
echo done > $R/x15_still.done
