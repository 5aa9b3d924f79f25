#!/bin/sh
# x2 video settings 7-9 with a down net trained on two-frame clips (train.py --temporal): the x2 down
# net and mid up net are fine-tuned jointly through the intra + P-picture proxy at x264's lambda
# (x2t_joint: settings 7-8's down net), then the up net per bucket on real x264 P pictures
# (x2t_high, x2t_mid: settings 7, 8); the low bucket's pair is first continued at low rates only
# (x2tL_joint: setting 9's down net), its up net then on x264 P pictures and last on x264 camera
# clips (x2tc2L_low: setting 9's up net). Resumable: rerun to continue.
#   sh training/aicodec/run_video_temporal.sh        (from anywhere)
# Where it starts: the down net from the tree (models/x2_joint_down.safetensors, settings 1-3's,
# made by run_x2.sh); the up net from an earlier stage of the x2 pipeline, run_x2.sh's x2_mid (run
# it first), exported to training/runs/x2_mid_up.safetensors. The last stage starts from this
# script's own x2tL_joint and x2tL_low, exported to training/runs/ the same way.
set -e
cd "$(dirname "$0")/../.."
T="nice -n 5 python3 training/aicodec/train.py --scale 2 --batch 16 --crop 144 --threads 1 --seed 1"
R=training/runs
mkdir -p $R
export_run() {   # export_run RUN [SCRIPT]: RUN's nets as $R/RUN_{down,up}.safetensors (no validation)
  [ -f $R/$1/final.pt ] || { echo "$R/$1 is not finished${2:+ (run $2 first)}" >&2; exit 1; }
  [ -f $R/$1_up.safetensors ] || python3 training/aicodec/export.py $R/$1 --name $1 --out $R --no-validate
}
export_run x2_mid training/aicodec/run_x2.sh
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
export_run x2tL_joint
export_run x2tL_low
[ -f $R/x2tc2L_low/final.pt ] || nice -n 5 python3 training/aicodec/train.py --scale 2 --batch 16 --crop 144 \
    --threads 1 --seed 4 --mode finetune --codec x264 --clip-frames 8 --max-shift 2 --p-static 0.4 \
    --init $R/x2tL_joint_down.safetensors --init-up $R/x2tL_low_up.safetensors --qmin 32 --qmax 44 --lr 1e-4 \
    --lr-final 1e-5 --warmup 50 --steps 600 --log-every 50 --val-every 0 --out $R/x2tc2L_low >> $R/x2tc2L_low.out 2>&1
echo done > $R/x2t_sequence.done
