#!/bin/sh
# Starts (or leaves running) the neural codec's training in the background: the main run, resumed
# from the best state available; once it has reached its budget the design A/B (forks of its
# final state, one thread each: the plain model and a model with more latent channels; a third,
# the checkerboard context model, has ended), then the decoder fine-tune. The main run resumes from:
#   1. training/runs/neural/$RUN/ckpt_latest.pt   (same machine: model, Adam, step, RNG, sampler)
#   2. training/neural/checkpoint/n64m96.safetensors   (committed: fp32 weights, step, curve)
#   3. the default record models/neural/<record>.safetensors   (fp16 weights, step, curve)
# The run gets its own process group (setsid) and the lowest CPU weight for its autogroup, so the
# rest of the work on the machine is not slowed down. The plan (budget, schedule) is fixed here so
# that every start continues the same run; see training/neural/README.md, "The main run".
#
#   sh training/neural/keep_training.sh            start or report
#   sh training/neural/keep_training.sh --stop     clean stop (saves ckpt_latest.pt)
set -eu
cd "$(dirname "$0")/../.."

RUN=main_n64m96
DIR=training/runs/neural/$RUN
PIDFILE=$DIR/pid
COMMITTED=training/neural/checkpoint/n64m96.safetensors
THREADS=${NIC_TRAIN_THREADS:-2}

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

if [ "${1:-}" = "--stop" ]; then
    for f in "$PIDFILE" training/runs/neural/ctx_A_plain/pid training/runs/neural/ctx_B_cb/pid \
        training/runs/neural/cap_C_m192/pid \
        "training/runs/neural/${RUN}_decoder/pid"; do
        if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then kill -TERM "$(cat "$f")"; echo "stopping pid $(cat "$f") ($f)"; fi
    done
    exit 0
fi
if running; then
    echo "$RUN is running (pid $(cat "$PIDFILE")); log: $DIR/stdout.log"
    exit 0
fi

# The plan: 104k steps in all; 1e-4 (warm restart of the step-70k record) until 85% of it (step
# 88,400), then 1e-5; then the design A/B to step 124k; then the decoder fine-tune on hard-rounded
# latents (finetune_decoder.py, 20k steps). The budget was 400k until the hold-out stayed flat at 1e-4 from step 75k to 88k
# (docs/decisions/neural-training.md, "The learning-rate drop").
TOTAL=104000
DEC_RUN=${RUN}_decoder
DEC_DIR=training/runs/neural/$DEC_RUN
DEC_OUT=training/neural/checkpoint/n64m96_decoder.safetensors
if [ -f "$DEC_DIR/pid" ] && kill -0 "$(cat "$DEC_DIR/pid")" 2>/dev/null; then
    echo "$DEC_RUN is running (pid $(cat "$DEC_DIR/pid")); log: $DEC_DIR/stdout.log"
    exit 0
fi
if [ -f "$DEC_OUT" ]; then
    echo "training is complete: $DEC_OUT holds the fine-tuned codec (export it with export_record.py)"
    exit 0
fi

# Steps done by a run: its full checkpoint ($1), else the committed one ($2), else 0.
steps_of() {
    python3 - "$1" "$2" <<'PY'
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
main_step=$(steps_of "$DIR/ckpt_latest.pt" "$COMMITTED")

lower_priority() {  # $1 = pid of a child that calls setsid
    # Lowest weight for the run's autogroup (nice alone is ignored across autogroups). Only once
    # the child has its own session: before setsid() it still shares this shell's autogroup.
    i=0
    while [ "$i" -lt 50 ] && [ "$(ps -o sid= -p "$1" 2>/dev/null | tr -d ' ')" != "$1" ]; do sleep 0.1; i=$((i + 1)); done
    if [ "$(ps -o sid= -p "$1" 2>/dev/null | tr -d ' ')" = "$1" ] && [ -w "/proc/$1/autogroup" ]; then
        echo 19 > "/proc/$1/autogroup" || true
    fi
}

if [ "$main_step" -ge "$TOTAL" ]; then
    # The design A/B (docs/decisions/neural-training.md, "Checkerboard context model" and "More
    # latent channels, opened"): forks of the main run's final state with the same seed, data
    # order and lr 1e-5, one thread each. B (ctx_B_cb: the checkerboard context branch, its own
    # lr 1e-3) was stopped at step 112,640, its question answered for now; C grows M to 192 with
    # the new latents' scales at 0.3 and their updates 10x. C validates at the same steps as A,
    # the plain model.
    AB_TOTAL=124000
    forks=""
    for fork in ctx_A_plain cap_C_m192; do
        FDIR=training/runs/neural/$fork
        if [ -f "$FDIR/pid" ] && kill -0 "$(cat "$FDIR/pid")" 2>/dev/null; then
            forks="$forks $fork (running, pid $(cat "$FDIR/pid"))"
            continue
        fi
        [ "$(steps_of "$FDIR/ckpt_latest.pt" "")" -lt "$AB_TOTAL" ] || continue
        mkdir -p "$FDIR"
        DESIGN=""
        [ "$fork" = cap_C_m192 ] && DESIGN="--N 64 --M 192 --grow-scale 0.3 --grown-lr-mult 10"
        START=""
        [ -f "$FDIR/ckpt_latest.pt" ] || START="--init-from $COMMITTED --val-at-start"
        # shellcheck disable=SC2086
        OMP_WAIT_POLICY=PASSIVE setsid python3 training/neural/train.py --run "$fork" --resume $DESIGN $START \
            --levels-below 2 --threads 1 --crop 256 --batch 4 --lr 1e-5 --total-steps "$AB_TOTAL" --seed 1 \
            --val-levels 0,2,6,9 --val-minutes 1000 --val-every 400 --ckpt-minutes 5 --snapshot-every 0 \
            >> "$FDIR/stdout.log" 2>&1 < /dev/null &
        PID=$!
        echo "$PID" > "$FDIR/pid"
        lower_priority "$PID"
        forks="$forks $fork (started, pid $PID)"
    done
    if [ -n "$forks" ]; then
        echo "main run complete (step $main_step); design A/B until step $AB_TOTAL:$forks; logs: training/runs/neural/{ctx,cap}_*/"
        exit 0
    fi

    mkdir -p "$DEC_DIR"
    SRC=$DIR/ckpt_latest.pt
    [ -f "$SRC" ] || SRC=$COMMITTED
    OMP_WAIT_POLICY=PASSIVE setsid python3 training/neural/finetune_decoder.py --run "$DEC_RUN" --from "$SRC" --steps 20000 --lr 1e-5 \
        --threads "$THREADS" --out "$DEC_OUT" >> "$DEC_DIR/stdout.log" 2>&1 < /dev/null &
    PID=$!
    echo "$PID" > "$DEC_DIR/pid"
    lower_priority "$PID"
    echo "main run complete (step $main_step); started $DEC_RUN (pid $PID); log: $DEC_DIR/stdout.log"
    exit 0
fi

mkdir -p "$DIR"
if [ -f "$DIR/ckpt_latest.pt" ]; then
    FROM=""
elif [ -f "$COMMITTED" ]; then
    FROM="--init-from $COMMITTED"
else
    RECORD=$(python3 -c "import json;print(json.load(open('models/neural/codec.json'))['model'])")
    FROM="--init-from models/neural/$RECORD"
fi

# Passive waiting: at the lowest weight the run's threads are often descheduled, and threads
# spinning at OpenMP barriers for a descheduled partner would burn the little CPU it gets.
export OMP_WAIT_POLICY=PASSIVE
setsid python3 training/neural/train.py --run "$RUN" --resume $FROM --levels-below 2 \
    --threads "$THREADS" --crop 256 --batch 4 --lr 1e-4 --lr-schedule 0.85:0.1 --total-steps "$TOTAL" \
    --val-levels 0,2,6,9 --val-minutes 30 --ckpt-minutes 5 --snapshot-every 10000 \
    --milestone-every 100000 >> "$DIR/stdout.log" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$PIDFILE"
lower_priority "$PID"
echo "started $RUN (pid $PID, $THREADS threads${FROM:+, $FROM}); log: $DIR/stdout.log"
