#!/bin/sh
# The 1x restoration nets (train_restore.py; nets.ScalerNet scale "1": x264's full-resolution decode
# -> the source's luma, 4->16->16->16->4 convs on 2x2 blocks, 1,440 MACs per pixel), one per x264
# bucket, on 8-frame camera pans of training crops coded by real x264 (docs/decisions/
# aicodec-training.md, "1x restoration", for what each stage measured). Resumable: rerun to continue.
#   sh training/aicodec/run_restore.sh        (from anywhere)
# Stage 1 (x1r_mid, x1r_low): MSE from scratch, ended part-way through a 1400-step schedule.
# Stage 2 (x1r2_*): from stage 1, the per-frame dB loss (--loss rel), softer content (--max-zoom
# 2.5) and faster pans (--max-shift 6), ended part-way through 1000 steps; high from stage 1's mid.
# Stage 3 (x1r3_*): 600 steps more, each bucket's CRF range widened downwards (--crf-min).
# Each stage-3 net is exported to training/runs/x1r_BUCKET_up.safetensors (no net gained on every
# clip at every CRF of its bucket, so none is copied to models/).
set -e
cd "$(dirname "$0")/../.."
T="python3 training/aicodec/train_restore.py"
V="--loss rel --max-zoom 2.5 --max-shift 6 --lr 5e-4 --warmup 20 --steps 1000 --seed 2"
W="--loss rel --max-zoom 2.5 --max-shift 6 --lr 3e-4 --warmup 10 --steps 600 --seed 3"
R=training/runs
mkdir -p $R
[ -f $R/x1r_mid/final.pt ] || $T --bucket mid --steps 1400 --stop-after 840 --out $R/x1r_mid >> $R/x1r_mid.out 2>&1
[ -f $R/x1r_low/final.pt ] || $T --bucket low --steps 1400 --stop-after 830 --out $R/x1r_low >> $R/x1r_low.out 2>&1
[ -f $R/x1r2_mid/final.pt ] || $T --bucket mid --init $R/x1r_mid $V --stop-after 417 --out $R/x1r2_mid >> $R/x1r2_mid.out 2>&1
[ -f $R/x1r2_low/final.pt ] || $T --bucket low --init $R/x1r_low $V --stop-after 423 --out $R/x1r2_low >> $R/x1r2_low.out 2>&1
[ -f $R/x1r2_high/final.pt ] || $T --bucket high --init $R/x1r_mid $V --stop-after 410 --out $R/x1r2_high >> $R/x1r2_high.out 2>&1
[ -f $R/x1r3_mid/final.pt ] || $T --bucket mid --crf-min 18 --init $R/x1r2_mid $W --out $R/x1r3_mid >> $R/x1r3_mid.out 2>&1
[ -f $R/x1r3_low/final.pt ] || $T --bucket low --crf-min 26 --init $R/x1r2_low $W --out $R/x1r3_low >> $R/x1r3_low.out 2>&1
[ -f $R/x1r3_high/final.pt ] || $T --bucket high --crf-min 10 --init $R/x1r2_high $W --out $R/x1r3_high >> $R/x1r3_high.out 2>&1
for b in mid low high; do
  python3 training/aicodec/export.py $R/x1r3_$b --name x1r_$b --out $R --no-validate
done
