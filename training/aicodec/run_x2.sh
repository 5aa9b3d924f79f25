#!/bin/sh
# The x2 JPEG-proxy pipeline, from scratch, on 1 thread at nice 5 (resumable: rerun to continue).
#   sh training/aicodec/run_x2.sh            (from anywhere)
# Stages: joint down+up (JPEG proxy; x2_joint: the down net of settings 1-3) -> per-bucket up
# fine-tuning on real JPEG of the joint down net's output (x2_{high,mid,low}; x2_mid is where
# run_video_temporal.sh starts) -> generic up (bicubic + real JPEG; a larger net: setting 100, the
# fallback, not the real-time path). Logs: training/runs/<name>/log.jsonl and <name>.out.
set -e
cd "$(dirname "$0")/../.."
T="nice -n 5 python3 training/aicodec/train.py --scale 2 --batch 16 --crop 144 --threads 1 --seed 1"
R=training/runs
mkdir -p $R
. training/aicodec/joint_buckets.sh
joint_and_buckets x2 10000
[ -f $R/x2_generic_w32d6/final.pt ] || $T --mode generic --up-width 32 --up-depth 6 --steps 7000 --p-identity 0.25 \
    --qmin 10 --qmax 95 --val-every 1000 --out $R/x2_generic_w32d6 >> $R/x2_generic_w32d6.out 2>&1
echo done > $R/x2_sequence.done
