#!/bin/sh
# The x1.5 JPEG-proxy pipeline, from scratch, on 1 thread at nice 5 (resumable: rerun to continue).
#   sh training/aicodec/run_x15.sh           (from anywhere)
# Stages: joint down+up (JPEG proxy) -> per-bucket up fine-tuning on real JPEG. Nothing here ships
# as it is: settings 4-6 continue from x15_joint's down net and x15_mid's up net with
# run_still_rd.sh 1.5 (the rate-distortion loss).
# HR crop 144 -> LR 96 (multiple of 8 for the proxy); 3x3 HR <-> 2x2 LR block mapping.
set -e
cd "$(dirname "$0")/../.."
T="nice -n 5 python3 training/aicodec/train.py --scale 1.5 --batch 16 --crop 144 --threads 1 --seed 1"
R=training/runs
mkdir -p $R
[ -f $R/x15_joint/final.pt ] || $T --mode joint --steps 6000 --kappa 1.0 --w-struct 0.05 --p-identity 0.15 \
    --val-every 1000 --out $R/x15_joint >> $R/x15_joint.out 2>&1
for b in low mid high; do
  P=0; [ $b = high ] && P=0.2
  [ -f $R/x15_$b/final.pt ] || $T --mode finetune --bucket $b --init $R/x15_joint --lr 2e-4 --lr-final 1e-5 \
      --warmup 50 --p-identity $P --steps 1000 --val-every 1000 --out $R/x15_$b >> $R/x15_$b.out 2>&1
done
echo done > $R/x15_sequence.done
