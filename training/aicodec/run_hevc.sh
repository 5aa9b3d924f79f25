#!/bin/sh
# The x265 settings (x1.5: 10-12, x2: 13-15; real-time up nets, also for video). Resumable: rerun to continue.
#   sh training/aicodec/run_hevc.sh 1.5|2        (from the repository root)
# Stages: joint down+up through the DCT proxy with HEVC's flat quantisation (QP 17-47) -> per-bucket
# up fine-tuning on real x265 intra pictures of the frozen down net's output (X265_BUCKETS).
set -e
cd "$(dirname "$0")/../.."
case "$1" in
  1.5) N=x15h; STEPS=6000; VAL=1000 ;;
  2)   N=x2h; STEPS=10000; VAL=2000 ;;
  *)   echo "usage: sh training/aicodec/run_hevc.sh 1.5|2" >&2; exit 2 ;;
esac
T="nice -n 5 python3 training/aicodec/train.py --scale $1 --batch 16 --crop 144 --threads 1 --seed 1"
R=training/runs
mkdir -p $R
[ -f $R/${N}_joint/final.pt ] || $T --mode joint --proxy hevc --qmin 17 --qmax 47 --steps $STEPS --kappa 1.0 \
    --w-struct 0.05 --p-identity 0.15 --val-every $VAL --out $R/${N}_joint >> $R/${N}_joint.out 2>&1
for b in low mid high; do
  P=0; [ $b = high ] && P=0.2
  [ -f $R/${N}_$b/final.pt ] || $T --mode finetune --codec x265 --bucket $b --init $R/${N}_joint --lr 2e-4 \
      --lr-final 1e-5 --warmup 50 --p-identity $P --steps 800 --val-every 400 --out $R/${N}_$b >> $R/${N}_$b.out 2>&1
done
echo done > $R/${N}_sequence.done
