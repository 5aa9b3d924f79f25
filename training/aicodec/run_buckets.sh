#!/bin/sh
# Per-bucket fine-tuning of the up net on real JPEG, after a joint run (resumable).
#   sh training/aicodec/run_buckets.sh SCALE STEPS      e.g.  sh training/aicodec/run_buckets.sh 2 1000
# SCALE is 2 or 1.5; runs go to training/runs/x2_{low,mid,high} or x15_{...}.
set -e
cd "$(dirname "$0")/../.."
S=$1; N=$2
TAG=x2; [ "$S" = 1.5 ] && TAG=x15
R=training/runs
for b in low mid high; do
  P=0; [ $b = high ] && P=0.2
  [ -f $R/${TAG}_$b/final.pt ] || nice -n 5 python3 training/aicodec/train.py --scale $S --batch 16 --crop 144 \
      --threads 1 --seed 1 --mode finetune --bucket $b --init $R/${TAG}_joint --lr 2e-4 --lr-final 1e-5 \
      --warmup 50 --p-identity $P --steps $N --val-every $N --out $R/${TAG}_$b >> $R/${TAG}_$b.out 2>&1
done
