#!/bin/sh
# Starts (or leaves running) the neural codec's training in the background: the current stage of
# the plan below, resumed from the best state available. Each run gets its own process group
# (setsid) and the lowest CPU weight for its autogroup, so that the rest of the work on the
# machine is not slowed down. The plan is fixed here so that every start continues the same run;
# its history and measurements are in docs/decisions/neural-training.md.
#
#   done     the main run (N 64, M 96), 104k steps: record n64m96_104k (the default)
#   done     the design A/B from its final state: 96 more latent channels (M 192) won in the
#            training measure at step 122,071: n64m192_122k (in the tree, not the default)
#   done     enc_D_na128: the encoder alone, with an analysis twice as wide (Na 128), trained
#            against n64m192_122k's frozen decoder until step 136,400 (lr 1e-5, the new units'
#            updates x10; x0.1 from 135.8k; planned to 140k, ended early as its hold-out had been
#            flat for 5,000 steps). It resumes from
#              1. training/runs/neural/enc_D_na128/ckpt_latest.pt   (same machine: model, Adam, RNG)
#              2. training/neural/checkpoint/n64m192_enc128.safetensors   (committed: the encoder)
#              3. the record models/neural/n64m192_122k.safetensors
#   done     the decoder fine-tune on hard-rounded latents (finetune_decoder.py, 20k steps at 1e-5,
#            on the means' grid, the integer grid and dependent quantisation's points in turn)
#            of the encoder run's final state, committed first as 2. above; it resumes from
#              1. training/runs/neural/enc_D_na128_decoder/ckpt_latest.pt
#              2. training/neural/checkpoint/n64m192_enc128_decoder.safetensors   (committed: g_s)
#   done     a deeper synthesis, measured on the same latents: the fine-tuned decoder with three
#            residual blocks at 1/8 resolution (finetune_decoder.py --synthesis-blocks 3, the
#            blocks at 1e-4, the rest at 1e-5, x0.1 after 85%; 30k steps); it resumes from
#              1. training/runs/neural/enc_D_na128_blocks3/ckpt_latest.pt
#              2. training/neural/checkpoint/n64m192_enc128_blocks3.safetensors   (committed: g_s)
#   now      that synthesis tuned on the latents of the encoder a record ships with: n64m192_122k's
#            analysis (Na 64; the wide one is too slow for effort 0), finetune_decoder.py
#            --encoder-from, 20k steps at 1e-5, x0.1 after 85%; it resumes from
#              1. training/runs/neural/blocks3_na64/ckpt_latest.pt
#              2. training/neural/checkpoint/n64m192_blocks3_na64.safetensors   (committed: g_s)
#
#   sh training/neural/keep_training.sh            start or report
#   sh training/neural/keep_training.sh --stop     clean stop (saves ckpt_latest.pt)
#
# When a stage reaches its last step, its job runs this script again (--next STAGE), which commits
# the final state and starts the next stage: no stage waits for someone to start it. A stopped
# stage (--stop, or killed) does not chain.
set -eu
cd "$(dirname "$0")/../.."

RUN=enc_D_na128
DIR=training/runs/neural/$RUN
RECORD=models/neural/n64m192_122k.safetensors
COMMITTED=training/neural/checkpoint/n64m192_enc128.safetensors
TOTAL=136400
DEC_RUN=${RUN}_decoder
DEC_DIR=training/runs/neural/$DEC_RUN
DEC_OUT=training/neural/checkpoint/n64m192_enc128_decoder.safetensors
BLK_RUN=${RUN}_blocks3
BLK_DIR=training/runs/neural/$BLK_RUN
BLK_OUT=training/neural/checkpoint/n64m192_enc128_blocks3.safetensors
NAR_RUN=blocks3_na64
NAR_DIR=training/runs/neural/$NAR_RUN
NAR_OUT=training/neural/checkpoint/n64m192_blocks3_na64.safetensors
THREADS=${NIC_TRAIN_THREADS:-2}

running() { [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null; }

if [ "${1:-}" = "--stop" ]; then
    # The whole process group: the job's shell and the training process in it.
    for d in "$DIR" "$DEC_DIR" "$BLK_DIR" "$NAR_DIR"; do
        if running "$d"; then kill -TERM -"$(cat "$d/pid")"; echo "stopping pid $(cat "$d/pid") ($d)"; fi
    done
    exit 0
fi
NEXT=""
[ "${1:-}" = "--next" ] && NEXT=${2:-encoder}
for d in "$DIR" "$DEC_DIR" "$BLK_DIR" "$NAR_DIR"; do
    if running "$d"; then
        echo "$(basename "$d") is running (pid $(cat "$d/pid")); log: $d/stdout.log"
        exit 0
    fi
done
# Whether the committed fine-tune $1 has done all of its planned steps.
finetune_complete() {
    python3 - "$1" <<'PY'
import json, os, sys
side = os.path.splitext(sys.argv[1])[0] + ".json"
ft = json.load(open(side)).get("finetune", {}) if os.path.exists(sys.argv[1]) else {}
sys.exit(0 if 0 < ft.get("steps_total", 0) <= ft.get("steps_done", 0) else 1)
PY
}
if finetune_complete "$NAR_OUT"; then
    echo "training is complete: $NAR_OUT holds the deeper synthesis tuned for the narrow analysis"
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

lower_priority() {  # $1 = pid of a child that calls setsid
    # Lowest weight for the run's autogroup (nice alone is ignored across autogroups). Only once
    # the child has its own session: before setsid() it still shares this shell's autogroup.
    i=0
    while [ "$i" -lt 50 ] && [ "$(ps -o sid= -p "$1" 2>/dev/null | tr -d ' ')" != "$1" ]; do sleep 0.1; i=$((i + 1)); done
    if [ "$(ps -o sid= -p "$1" 2>/dev/null | tr -d ' ')" = "$1" ] && [ -w "/proc/$1/autogroup" ]; then
        echo 19 > "/proc/$1/autogroup" || true
    fi
}

# Starts a decoder fine-tune as the job of run directory $1: finetune_decoder.py with the arguments
# after the first three, then (its pid file removed, so that the script does not see itself running)
# this script again with --next $2; $3 is the run that completed, for the message.
start_finetune() {
    dir=$1 stage=$2 completed=$3
    shift 3
    # shellcheck disable=SC2016
    STAGE=$stage setsid sh -c '
        python3 training/neural/finetune_decoder.py "$@" < /dev/null
        rm -f "$0/pid"
        exec sh training/neural/keep_training.sh --next "$STAGE"
    ' "$dir" "$@" >> "$dir/stdout.log" 2>&1 < /dev/null &
    PID=$!
    echo "$PID" > "$dir/pid"
    lower_priority "$PID"
    echo "$completed is complete; started $(basename "$dir") (pid $PID); log: $dir/stdout.log"
}

# Passive waiting: at the lowest weight the run's threads are often descheduled, and threads
# spinning at OpenMP barriers for a descheduled partner would burn the little CPU it gets.
export OMP_WAIT_POLICY=PASSIVE
mkdir -p "$DIR" "$DEC_DIR" "$BLK_DIR" "$NAR_DIR"
if finetune_complete "$BLK_OUT"; then
    if [ -n "$NEXT" ] && [ "$NEXT" != blocks ]; then
        echo "the $NEXT stage stopped: not chaining"
        exit 0
    fi
    start_finetune "$NAR_DIR" narrow "$BLK_RUN" --run "$NAR_RUN" --from "$BLK_OUT" --encoder-from "$RECORD" \
        --steps 20000 --lr 1e-5 --lr-drop-at 0.85 --rounding mixed --threads "$THREADS" --out "$NAR_OUT"
    exit 0
fi
if finetune_complete "$DEC_OUT"; then
    if [ -n "$NEXT" ] && [ "$NEXT" != decoder ]; then
        echo "the $NEXT stage stopped: not chaining"
        exit 0
    fi
    start_finetune "$BLK_DIR" blocks "$DEC_RUN" --run "$BLK_RUN" --from "$DEC_OUT" --synthesis-blocks 3 \
        --blocks-lr-mult 10 --steps 30000 --lr 1e-5 --lr-drop-at 0.85 --rounding mixed --threads "$THREADS" \
        --out "$BLK_OUT"
    exit 0
fi
if [ -n "$NEXT" ] && { [ "$NEXT" != encoder ] || [ "$(steps_of)" -lt "$TOTAL" ]; }; then
    echo "the $NEXT stage stopped before its last step: not chaining"
    exit 0
fi
if [ "$(steps_of)" -ge "$TOTAL" ]; then
    # The fine-tune starts from the committed final state of the encoder run, which its own
    # committed checkpoint names.
    if [ -f "$DIR/ckpt_latest.pt" ] && [ "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["step"])' \
            "${COMMITTED%.safetensors}.json")" -lt "$TOTAL" ]; then
        python3 training/neural/checkpoint.py --from "$DIR/ckpt_latest.pt" --out "$COMMITTED"
    fi
    start_finetune "$DEC_DIR" decoder "$RUN" --run "$DEC_RUN" --from "$COMMITTED" --steps 20000 --lr 1e-5 \
        --rounding mixed --threads "$THREADS" --out "$DEC_OUT"
    exit 0
fi

# The source of the weights where the run has no full checkpoint here; with one, --init-from only
# names the decoder the encoder is trained against.
FROM=$RECORD
[ -f "$COMMITTED" ] && FROM=$COMMITTED
START=""
[ -f "$DIR/ckpt_latest.pt" ] || START="--val-at-start"
# The job: the run, then (its pid file removed, so that the script does not see itself running)
# this script again with --next.
# shellcheck disable=SC2086
setsid sh -c '
    python3 training/neural/train.py "$@" < /dev/null
    rm -f "$0/pid"
    exec sh training/neural/keep_training.sh --next encoder
' "$DIR" --run "$RUN" --resume --init-from "$FROM" $START \
    --N 64 --M 192 --Na 128 --train encoder --levels-below 2 --threads "$THREADS" --crop 256 --batch 4 \
    --lr 1e-5 --grown-lr-mult 10 --lr-schedule 0.9956:0.1 --total-steps "$TOTAL" --seed 1 --val-levels 0,2,6,9 --val-every 400 \
    --val-minutes 1000 --ckpt-minutes 5 --snapshot-every 0 >> "$DIR/stdout.log" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$DIR/pid"
lower_priority "$PID"
echo "started $RUN (pid $PID, $THREADS threads, from $( [ -f "$DIR/ckpt_latest.pt" ] && echo "$DIR/ckpt_latest.pt" || echo "$FROM")); log: $DIR/stdout.log"
