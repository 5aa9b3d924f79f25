#!/bin/sh
# Still-image settings retrained with the rate-distortion loss (train.py --rd-loss): a joint down net
# and its mid up net are fine-tuned together through the codec proxy at the bicubic route's own
# lambda (3000 steps, then 5000 more with a fresh schedule), then the up net per bucket on the real
# codec. Resumable: rerun to continue.
#   sh training/aicodec/run_still_rd.sh 1.5|2 [jpeg|x265]        (from anywhere)
# Shipped: 1.5 jpeg (settings 4-6: x15r2_joint's down net, x15r2_{high,mid,low}'s up nets). The other
# three cases were measured and not shipped (docs/decisions/aicodec-training.md).
#
# Where each case starts:
#   1.5 jpeg  earlier stages of the same pipeline: x15_joint's down net and x15_mid's up net from
#             run_x15.sh (run it first), exported to training/runs/x15_joint_down.safetensors and
#             training/runs/x15_mid_up.safetensors (export.py --no-validate).
#   2 jpeg    the files in the tree: models/x2_joint_down.safetensors, models/x2s_mid_up.safetensors.
#   1.5 x265  the files in the tree: models/x15h_joint_down.safetensors, models/x15h_mid_up.safetensors.
#   2 x265    the files in the tree: models/x2h_joint_down.safetensors, models/x2h_mid_up.safetensors.
set -e
cd "$(dirname "$0")/../.."
S=$1; C=${2:-jpeg}
case $S-$C in
  2-jpeg)   N=x2r;   DOWN=x2_joint_down;   UP=x2s_mid_up ;;
  1.5-jpeg) N=x15r;  DOWN=x15_joint_down;  UP=x15_mid_up ;;
  2-x265)   N=x2hr;  DOWN=x2h_joint_down;  UP=x2h_mid_up ;;
  1.5-x265) N=x15hr; DOWN=x15h_joint_down; UP=x15h_mid_up ;;
  *) echo "usage: sh training/aicodec/run_still_rd.sh 1.5|2 [jpeg|x265]" >&2; exit 2 ;;
esac
if [ $C = x265 ]; then
  JOINT="--proxy hevc --qmin 17 --qmax 47"; FINE="--codec x265"
else
  JOINT=""; FINE=""
fi
R=training/runs
mkdir -p $R
if [ $S-$C = 1.5-jpeg ]; then
  for run in x15_joint x15_mid; do
    [ -f $R/$run/final.pt ] || { echo "run training/aicodec/run_x15.sh first ($R/$run is not finished)" >&2; exit 1; }
    [ -f $R/${run}_up.safetensors ] || python3 training/aicodec/export.py $R/$run --name $run --out $R --no-validate
  done
else
  for f in $DOWN $UP; do
    [ -f $R/$f.safetensors ] || cp models/$f.safetensors $R/$f.safetensors
  done
fi
T="nice -n 5 python3 training/aicodec/train.py --scale $S --batch 16 --crop 144 --threads 1"
O="--lr 2e-4 --lr-final 1e-5 --warmup 100 --w-struct 0.05 --p-identity 0.1 --val-every 1000"
[ -f $R/${N}_joint/final.pt ] || $T --seed 1 --mode joint --rd-loss $JOINT --init $R/$DOWN.safetensors \
    --init-up $R/$UP.safetensors --steps 3000 $O --out $R/${N}_joint >> $R/${N}_joint.out 2>&1
[ -f $R/${N}2_joint/final.pt ] || $T --seed 2 --mode joint --rd-loss $JOINT --init $R/${N}_joint --steps 5000 $O \
    --out $R/${N}2_joint >> $R/${N}2_joint.out 2>&1
for b in low mid high; do
  P=0; [ $b = high ] && P=0.2
  [ -f $R/${N}2_$b/final.pt ] || $T --seed 1 --mode finetune $FINE --bucket $b --init $R/${N}2_joint --lr 2e-4 \
      --lr-final 1e-5 --warmup 50 --p-identity $P --steps 800 --val-every 400 --out $R/${N}2_$b >> $R/${N}2_$b.out 2>&1
done
echo done > $R/${N}_sequence.done
