#!/bin/sh
# Experiment, not shipped (training/aicodec/README.md, "Experiments"; make_settings.py has no rows for
# these runs). Still-image x265 up nets (no frame deadline, like 1-3 for JPEG): behind the frozen HEVC-proxy
# down net of run_hevc.sh, a fresh larger up net on real x265 intra pictures at CRF 17-51, then
# fine-tuned per bucket (X265_BUCKETS). Needs run_hevc.sh SCALE first. Resumable: rerun to continue.
#   sh training/aicodec/experiments/run_hevc_still.sh 1.5|2        (from the repository root)
set -e
cd "$(dirname "$0")/../../.."
case "$1" in
  1.5) N=x15h; W=64 ;;
  2)   N=x2h; W=32 ;;
  *)   echo "usage: sh training/aicodec/experiments/run_hevc_still.sh 1.5|2" >&2; exit 2 ;;
esac
T="nice -n 5 python3 training/aicodec/train.py --scale $1 --batch 16 --crop 144 --threads 1 --seed 1"
R=training/runs
[ -f $R/${N}_joint/final.pt ] || { echo "run training/aicodec/run_hevc.sh $1 first" >&2; exit 1; }
[ -f $R/${N}s_all/final.pt ] || $T --mode finetune --codec x265 --fresh-up --up-width $W --up-depth 6 \
    --init $R/${N}_joint --qmin 17 --qmax 51 --p-identity 0.1 --steps 3000 --val-every 1000 \
    --out $R/${N}s_all >> $R/${N}s_all.out 2>&1
for b in low mid high; do
  P=0; [ $b = high ] && P=0.2
  [ -f $R/${N}s_$b/final.pt ] || $T --mode finetune --codec x265 --bucket $b --init $R/${N}s_all --lr 2e-4 \
      --lr-final 1e-5 --warmup 50 --p-identity $P --steps 600 --val-every 300 --out $R/${N}s_$b >> $R/${N}s_$b.out 2>&1
done
echo done > $R/${N}_still.done
