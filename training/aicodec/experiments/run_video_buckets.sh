#!/bin/sh
# Experiment, not shipped (training/aicodec/README.md, "Experiments"; settings 7-9 come from
# run_video_temporal.sh). The x2 joint down net's up net fine-tuned per bucket on real x264 (inter-coded
# P pictures of the down net's output, CRF ranges of X264_BUCKETS). Resumable: rerun to continue.
#   sh training/aicodec/experiments/run_video_buckets.sh [STEPS]      (from the repository root)
set -e
cd "$(dirname "$0")/../../.."
STEPS=${1:-1500}
T="nice -n 5 python3 training/aicodec/train.py --scale 2 --batch 16 --crop 144 --threads 1 --seed 1"
R=training/runs
for b in low mid high; do
  P=0; [ $b = high ] && P=0.1
  [ -f $R/x2v_$b/final.pt ] || $T --mode finetune --codec x264 --bucket $b --init $R/x2_joint --lr 2e-4 \
      --lr-final 1e-5 --warmup 50 --p-identity $P --steps "$STEPS" --val-every 500 --out $R/x2v_$b >> $R/x2v_$b.out 2>&1
done
echo done > $R/x2v_buckets.done
