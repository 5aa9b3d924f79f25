#!/bin/sh
# The luma-guided chroma networks of the still-image settings (JPEG, WebP: 1-6; x265: 10-15). Resumable.
#   sh training/aicodec/run_chroma.sh 1.5|2 jpeg|webp|x265        (from the repository root, after
#   `swift build -c release`: the pairs are made by the real route with .build/release/nic)
# Stages: training pairs from the shipped settings' AI route and the real codec (chroma_data.py;
# training and hold-out crops of 192x192) -> the chroma network (train_chroma.py, 8000 steps).
set -e
cd "$(dirname "$0")/../.."
# Per case: name, data seed, training / hold-out crops (x265 pairs are slower to make).
case "$1 $2" in
  "1.5 jpeg") N=x15; SEED=0; TRAIN=1200; VAL=200 ;;
  "2 jpeg")   N=x2;  SEED=1; TRAIN=1500; VAL=200 ;;
  "2 x265")   N=x2;  SEED=2; TRAIN=1200; VAL=200 ;;
  "1.5 x265") N=x15; SEED=3; TRAIN=600;  VAL=120 ;;
  "1.5 webp") N=x15; SEED=4; TRAIN=1200; VAL=200 ;;
  "2 webp")   N=x2;  SEED=5; TRAIN=1200; VAL=200 ;;
  *) echo "usage: sh training/aicodec/run_chroma.sh 1.5|2 jpeg|webp|x265" >&2; exit 2 ;;
esac
R=training/runs
D=$R/chroma_data
NIC=$D/nic
mkdir -p $D
# A copy of the tool, so that rebuilding the project does not pull it away from a running job.
[ -x $NIC ] || cp .build/release/nic $NIC
G="nice -n 5 python3 training/aicodec/chroma_data.py --scale $1 --codec $2 --nic $NIC --models models"
[ -f $D/${N}_$2_train.npz ] || $G --samples $TRAIN --seed $SEED --out $D/${N}_$2_train.npz > $D/${N}_$2_train.log 2>&1
[ -f $D/${N}_$2_val.npz ] || $G --samples $VAL --seed $((SEED + 7)) --split val --out $D/${N}_$2_val.npz > $D/${N}_$2_val.log 2>&1
[ -f $R/${N}c_$2/${N}c_$2_chroma.safetensors ] || nice -n 5 python3 training/aicodec/train_chroma.py \
    --data $D/${N}_$2_train.npz --val $D/${N}_$2_val.npz --out $R/${N}c_$2 --scale $1 --codec $2 \
    --steps 8000 --batch 32 --block 4 --width 48 --depth 5 --coded-only >> $R/${N}c_$2.out 2>&1
# Bucket networks where the hold-out showed a gain: the low bucket's network continued from the
# scale's network on that bucket's qualities only (JPEG x1.5: quality 5-49 for setting 6; x265 x2:
# CRF 32-51 for setting 15).
case "$1 $2" in
  "1.5 jpeg") B=low; Q="--qmin 5 --qmax 49" ;;
  "2 x265")   B=low; Q="--qmin 32 --qmax 51" ;;
  *) exit 0 ;;
esac
[ -f $R/${N}c_$2_$B/${N}c_$2_${B}_chroma.safetensors ] || nice -n 5 python3 training/aicodec/train_chroma.py \
    --data $D/${N}_$2_train.npz --val $D/${N}_$2_val.npz --out $R/${N}c_$2_$B --scale $1 --codec $2 \
    --init $R/${N}c_$2 $Q --steps 3000 --batch 32 --block 4 --width 48 --depth 5 --coded-only --lr 3e-4 \
    >> $R/${N}c_$2_$B.out 2>&1
