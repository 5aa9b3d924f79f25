#!/bin/sh
# x2 settings for x264/x265 (13-15; the real-time up net, also for video), resumable: rerun to continue.
#   sh training/aicodec/run_x2_hevc.sh           (from the repository root)
# Stages: joint down+up through the DCT proxy with HEVC's flat quantisation (QP 17-47) -> per-bucket
# up fine-tuning on real x265 intra pictures of the frozen down net's output (X265_BUCKETS).
set -e
cd "$(dirname "$0")/../.."
T="nice -n 5 python3 training/aicodec/train.py --scale 2 --batch 16 --crop 144 --threads 1 --seed 1"
R=training/runs
mkdir -p $R
[ -f $R/x2h_joint/final.pt ] || $T --mode joint --proxy hevc --qmin 17 --qmax 47 --steps 10000 --kappa 1.0 \
    --w-struct 0.05 --p-identity 0.15 --val-every 2000 --out $R/x2h_joint >> $R/x2h_joint.out 2>&1
for b in low mid high; do
  P=0; [ $b = high ] && P=0.2
  [ -f $R/x2h_$b/final.pt ] || $T --mode finetune --codec x265 --bucket $b --init $R/x2h_joint --lr 2e-4 \
      --lr-final 1e-5 --warmup 50 --p-identity $P --steps 800 --val-every 400 --out $R/x2h_$b >> $R/x2h_$b.out 2>&1
done
echo done > $R/x2h_sequence.done
