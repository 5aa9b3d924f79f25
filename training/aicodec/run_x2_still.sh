#!/bin/sh
# Still-image x2 settings (1-3) with a larger up net than video needs: a fresh 32-channel, 6-layer
# up net trained on real JPEG of the frozen x2 joint down net's output (all qualities), then
# fine-tuned per bucket. Resumable: rerun to continue.
#   sh training/aicodec/run_x2_still.sh            (from the repository root)
set -e
cd "$(dirname "$0")/../.."
T="nice -n 5 python3 training/aicodec/train.py --scale 2 --batch 16 --crop 144 --threads 1 --seed 1"
R=training/runs
[ -f $R/x2s_all/final.pt ] || $T --mode finetune --fresh-up --up-width 32 --up-depth 6 --init $R/x2_joint \
    --qmin 10 --qmax 95 --p-identity 0.15 --steps 5000 --val-every 1000 --out $R/x2s_all >> $R/x2s_all.out 2>&1
for b in low mid high; do
  P=0; [ $b = high ] && P=0.2
  [ -f $R/x2s_$b/final.pt ] || $T --mode finetune --bucket $b --init $R/x2s_all --lr 2e-4 --lr-final 1e-5 \
      --warmup 50 --p-identity $P --steps 800 --val-every 400 --out $R/x2s_$b >> $R/x2s_$b.out 2>&1
done
echo done > $R/x2_still.done
