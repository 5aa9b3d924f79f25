#!/bin/sh
# Still-image settings retrained with the rate-distortion loss (train.py --rd-loss): a shipped joint
# down net and its mid up net are fine-tuned together through the codec proxy at the bicubic route's
# own lambda (3000 steps, then 5000 more with a fresh schedule), then the up net per bucket on the
# real codec. Resumable: rerun to continue. Shipped: x1.5 JPEG (settings 4-6).
#   sh training/aicodec/run_still_rd.sh 1.5|2 [jpeg|x265]        (from the repository root)
set -e
cd "$(dirname "$0")/../.."
S=$1; C=${2:-jpeg}
case $S-$C in
  2-jpeg)   N=x2r;   DOWN=x2_joint_down;   UP=x2s_mid_up ;;
  1.5-jpeg) N=x15r;  DOWN=x15_joint_down;  UP=x15_mid_up ;;
  2-x265)   N=x2hr;  DOWN=x2h_joint_down;  UP=x2h_mid_up ;;
  1.5-x265) N=x15hr; DOWN=x15h_joint_down; UP=x15h_mid_up ;;
  *) echo "usage: $0 1.5|2 [jpeg|x265]" >&2; exit 2 ;;
esac
if [ $C = x265 ]; then
  JOINT="--proxy hevc --qmin 17 --qmax 47"; FINE="--codec x265"
else
  JOINT=""; FINE=""
fi
# the shipped nets these runs start from, as they were at commit 0a502b8 (models/ has moved on)
START=0a502b8
R=training/runs
mkdir -p $R
for f in $DOWN $UP; do
  [ -f $R/$f.safetensors ] || git show $START:models/$f.safetensors > $R/$f.safetensors
done
T="nice -n 5 python3 training/aicodec/train.py --scale $S --batch 16 --crop 144 --threads 1"
J="--mode joint --rd-loss $JOINT --lr 2e-4 --lr-final 1e-5 --warmup 100 --w-struct 0.05 --p-identity 0.1 --val-every 1000"
[ -f $R/${N}_joint/final.pt ] || $T --seed 1 $J --init $R/$DOWN.safetensors --init-up $R/$UP.safetensors \
    --steps 3000 --out $R/${N}_joint >> $R/${N}_joint.out 2>&1
[ -f $R/${N}2_joint/final.pt ] || $T --seed 2 $J --init $R/${N}_joint --steps 5000 --out $R/${N}2_joint \
    >> $R/${N}2_joint.out 2>&1
for b in low mid high; do
  P=0; [ $b = high ] && P=0.2
  [ -f $R/${N}2_$b/final.pt ] || $T --seed 1 --mode finetune $FINE --bucket $b --init $R/${N}2_joint --lr 2e-4 \
      --lr-final 1e-5 --warmup 50 --p-identity $P --steps 800 --val-every 400 --out $R/${N}2_$b >> $R/${N}2_$b.out 2>&1
done
echo done > $R/${N}_sequence.done
