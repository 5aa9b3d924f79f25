#!/bin/sh
# Starts (or leaves running) the neural codec's training in the background: the current stage of
# the plan below, resumed from the best state available. The run gets its own process group
# (setsid) and the lowest CPU weight for its autogroup, so that the rest of the work on the
# machine is not slowed down. The plan is fixed here so that every start continues the same run;
# its history and measurements are in docs/decisions/neural-training.md.
#
#   done     the main run (N 64, M 96), 104k steps: record n64m96_104k (the default)
#   done     the design A/B from its final state: 96 more latent channels (M 192) won in the
#            training measure at step 122,071: n64m192_122k (in the tree, not the default)
#   done     enc_D_na128: the encoder alone with an analysis twice as wide, against n64m192_122k's
#            frozen decoder, to step 136,400: training/neural/checkpoint/n64m192_enc128
#   done     its decoder fine-tune on hard-rounded latents, 20k steps: .../n64m192_enc128_decoder
#   done     a deeper synthesis (three residual blocks at 1/8 resolution), 30k steps:
#            .../n64m192_enc128_blocks3
#   stopped  blocks3_na64, that synthesis tuned on n64m192_122k's analysis, at step 1,800 of 20,000:
#            opening the second 96 latents (below) gains more per training hour
#   now      open_all: n64m192_122k's second 96 latents opened (open_l69: levels 6-9 alone for
#            3,000 steps, lr 5e-5, the grown elements' updates x10; done), then every level at the
#            same rates: 20,000 steps of open_all, x0.1 after 85%. It resumes from
#              1. training/runs/neural/open_all/ckpt_latest.pt   (same machine: model, Adam, RNG)
#              2. training/neural/checkpoint/n64m192_open.safetensors   (committed every 2,000
#                 steps: the float16 record, since the float32 training form is over 8 MiB)
#
#   sh training/neural/keep_training.sh            start or report
#   sh training/neural/keep_training.sh --stop     clean stop (saves ckpt_latest.pt)
#
# When the stage reaches its last step its job runs this script again (--next open), which reports
# the plan complete; a stopped stage (--stop, or killed) does not chain.
set -eu
cd "$(dirname "$0")/../.."

RUN=open_all
DIR=training/runs/neural/$RUN
COMMITTED=training/neural/checkpoint/n64m192_open.safetensors
TOTAL=20000
THREADS=${NIC_TRAIN_THREADS:-2}

running() { [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null; }

if [ "${1:-}" = "--stop" ]; then
    # The whole process group: the job's shell and the training process in it.
    if running "$DIR"; then kill -TERM -"$(cat "$DIR/pid")"; echo "stopping pid $(cat "$DIR/pid") ($DIR)"; fi
    exit 0
fi
if running "$DIR"; then
    echo "$RUN is running (pid $(cat "$DIR/pid")); log: $DIR/stdout.log"
    exit 0
fi

# Steps done by the run: its full checkpoint, else the committed one, else 0.
steps_of() {
    python3 - "$DIR/ckpt_latest.pt" "$COMMITTED" <<'PY'
import json, os, sys
if os.path.exists(sys.argv[1]):
    import torch
    print(torch.load(sys.argv[1], map_location="cpu", weights_only=False)["step"])
elif os.path.exists(sys.argv[2]):
    print(json.load(open(os.path.splitext(sys.argv[2])[0] + ".json"))["step"])
else:
    print(0)
PY
}
if [ "$(steps_of)" -ge "$TOTAL" ]; then
    echo "training is complete: $RUN reached step $TOTAL ($COMMITTED)"
    exit 0
fi
if [ "${1:-}" = "--next" ]; then
    echo "the ${2:-} stage stopped before its last step: not chaining"
    exit 0
fi

lower_priority() {  # $1 = pid of a child that calls setsid
    # Lowest weight for the run's autogroup (nice alone is ignored across autogroups). Only once
    # the child has its own session: before setsid() it still shares this shell's autogroup.
    i=0
    while [ "$i" -lt 50 ] && [ "$(ps -o sid= -p "$1" 2>/dev/null | tr -d ' ')" != "$1" ]; do sleep 0.1; i=$((i + 1)); done
    if [ "$(ps -o sid= -p "$1" 2>/dev/null | tr -d ' ')" = "$1" ] && [ -w "/proc/$1/autogroup" ]; then
        echo 19 > "/proc/$1/autogroup" || true
    fi
}

# Passive waiting: at the lowest weight the run's threads are often descheduled, and threads
# spinning at OpenMP barriers for a descheduled partner would burn the little CPU it gets.
export OMP_WAIT_POLICY=PASSIVE
mkdir -p "$DIR"
# With a full checkpoint here --resume continues it and --init-from is not read; without one the
# run starts from the committed record at its step.
# The job: the run, then (its pid file removed, so that the script does not see itself running)
# this script again with --next.
setsid sh -c '
    python3 training/neural/train.py "$@" < /dev/null
    rm -f "$0/pid"
    exec sh training/neural/keep_training.sh --next open
' "$DIR" --run "$RUN" --resume --init-from "$COMMITTED" \
    --N 64 --M 192 --grown-lr-mult 10 --levels-below 2 --threads "$THREADS" --crop 256 --batch 4 \
    --lr 5e-5 --lr-schedule 0.85:0.1 --total-steps "$TOTAL" --seed 3 --val-levels 0,2,6,9 --val-every 1000 \
    --val-minutes 1000 --ckpt-minutes 5 --snapshot-every 0 \
    --milestone-every 2000 --milestone-form record --milestone-path "$COMMITTED" >> "$DIR/stdout.log" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$DIR/pid"
lower_priority "$PID"
echo "started $RUN (pid $PID, $THREADS threads, from $( [ -f "$DIR/ckpt_latest.pt" ] && echo "$DIR/ckpt_latest.pt" || echo "$COMMITTED")); log: $DIR/stdout.log"
