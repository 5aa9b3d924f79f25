# Sourced by run_x2.sh and run_x15.sh: the two stages their pipelines share. Needs $T (the
# train.py command with its scale and common flags) and $R (the runs folder).
#   joint_and_buckets PREFIX JOINT_STEPS
# joint down+up with the JPEG proxy into $R/PREFIX_joint, then per-bucket up fine-tuning on real
# JPEG of that down net's output into $R/PREFIX_{low,mid,high}; finished stages are skipped.
joint_and_buckets() {
  [ -f $R/$1_joint/final.pt ] || $T --mode joint --steps $2 --kappa 1.0 --w-struct 0.05 --p-identity 0.15 \
      --val-every 1000 --out $R/$1_joint >> $R/$1_joint.out 2>&1
  for b in low mid high; do
    P=0; [ $b = high ] && P=0.2
    [ -f $R/$1_$b/final.pt ] || $T --mode finetune --bucket $b --init $R/$1_joint --lr 2e-4 --lr-final 1e-5 \
        --warmup 50 --p-identity $P --steps 1000 --val-every 1000 --out $R/$1_$b >> $R/$1_$b.out 2>&1
  done
}
