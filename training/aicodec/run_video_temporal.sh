#!/bin/sh
# x2 video settings with a down net trained on two-frame clips (train.py --temporal): the shipped
# x2 down net and mid up net are fine-tuned jointly through the intra + P-picture proxy at x264's
# lambda, then the up net per bucket on real x264 P pictures; the low bucket's pair is first continued
# at low rates only. Resumable: rerun to continue.
#   sh training/aicodec/run_video_temporal.sh        (from the repository root)
set -e
cd "$(dirname "$0")/../.."
T="nice -n 5 python3 training/aicodec/train.py --scale 2 --batch 16 --crop 144 --threads 1 --seed 1"
R=training/runs
mkdir -p $R
# the starting up net: setting 8's before this script replaced it (from the repository's history)
[ -f $R/x2_mid_up.safetensors ] || git show ded331f:models/x2_mid_up.safetensors > $R/x2_mid_up.safetensors
[ -f $R/x2t_joint/final.pt ] || $T --mode joint --proxy hevc --qmin 20 --qmax 44 --temporal 0.8 \
    --init models/x2_joint_down.safetensors --init-up $R/x2_mid_up.safetensors --steps 3000 --lr 2e-4 \
    --lr-final 1e-5 --warmup 100 --w-struct 0.05 --p-identity 0.1 --val-every 1000 --out $R/x2t_joint \
    >> $R/x2t_joint.out 2>&1
# the low bucket (setting 9) gets its own down net: the joint pair continued at QP 32-44 only
[ -f $R/x2tL_joint/final.pt ] || $T --mode joint --proxy hevc --qmin 32 --qmax 44 --temporal 0.8 \
    --init $R/x2t_joint --steps 2000 --lr 1e-4 --lr-final 1e-5 --warmup 50 --w-struct 0.05 --p-identity 0.05 \
    --val-every 1000 --out $R/x2tL_joint >> $R/x2tL_joint.out 2>&1
for b in low mid high; do
  P=0; [ $b = high ] && P=0.1
  J=x2t_joint; N=x2t_$b; [ $b = low ] && { J=x2tL_joint; N=x2tL_low; }
  [ -f $R/$N/final.pt ] || $T --mode finetune --codec x264 --bucket $b --init $R/$J --lr 2e-4 \
      --lr-final 1e-5 --warmup 50 --p-identity $P --steps 600 --val-every 300 --out $R/$N >> $R/$N.out 2>&1
done
# setting 9's up net then on real x264 camera clips: 8-frame pans (up to 2 original pixels per frame,
# 40% from a still camera) coded with x264's B-frames, every frame but the intra one a sample.
# (The recorded run started from the shipped files of x2tL_joint's down net and x2tL_low's up net.)
[ -f $R/x2tc2L_low/final.pt ] || nice -n 5 python3 training/aicodec/train.py --scale 2 --batch 16 --crop 144 \
    --threads 1 --seed 4 --mode finetune --codec x264 --clip-frames 8 --max-shift 2 --p-static 0.4 \
    --init $R/x2tL_low --qmin 32 --qmax 44 --lr 1e-4 --lr-final 1e-5 --warmup 50 --steps 600 --log-every 50 \
    --val-every 0 --out $R/x2tc2L_low >> $R/x2tc2L_low.out 2>&1
echo done > $R/x2t_sequence.done
