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
. training/aicodec/joint_buckets.sh
joint_and_buckets x15 6000
echo done > $R/x15_sequence.done
