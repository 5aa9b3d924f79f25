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
#            same rates: 12,000 steps of open_all, x0.1 after 85%. It resumes from
#              1. training/runs/neural/open_all/ckpt_latest.pt   (same machine: model, Adam, RNG)
#              2. training/neural/checkpoint/n64m192_open.safetensors   (committed every 2,000
#                 steps: the float16 record, since the float32 training form is over 8 MiB)
#   next     its decoder fine-tune on the latents files hold (finetune_decoder.py --rounding mixed,
#            16,000 steps at 1e-5, x0.1 after 85%) from the stage's final record; it resumes from
#              1. training/runs/neural/open_decoder/ckpt_latest.pt
#              2. training/neural/checkpoint/n64m192_open_decoder.safetensors   (committed: g_s)
#
#   sh training/neural/keep_training.sh            start or report
#   sh training/neural/keep_training.sh --stop     clean stop (saves ckpt_latest.pt)
#
# When a stage reaches its last step its job runs this script again (--next STAGE), which starts
# the next stage; a stopped stage (--stop, or killed) does not chain.
set -eu
cd "$(dirname "$0")/../.."

RUN=open_all
DIR=training/runs/neural/$RUN
COMMITTED=training/neural/checkpoint/n64m192_open.safetensors
TOTAL=12000
DEC_RUN=open_decoder
DEC_DIR=training/runs/neural/$DEC_RUN
DEC_OUT=training/neural/checkpoint/n64m192_open_decoder.safetensors
THREADS=${NIC_TRAIN_THREADS:-2}

running() { [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null; }

if [ "${1:-}" = "--stop" ]; then
    # The whole process group: the job's shell and the training process in it.
    for d in "$DIR" "$DEC_DIR"; do
        if running "$d"; then kill -TERM -"$(cat "$d/pid")"; echo "stopping pid $(cat "$d/pid") ($d)"; fi
    done
    exit 0
fi
NEXT=""
[ "${1:-}" = "--next" ] && NEXT=${2:-open}
for d in "$DIR" "$DEC_DIR"; do
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
if finetune_complete "$DEC_OUT"; then
    echo "training is complete: $DEC_OUT holds the opened model's fine-tuned decoder"
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
if [ -n "$NEXT" ] && { [ "$NEXT" != open ] || [ "$(steps_of)" -lt "$TOTAL" ]; }; then
    echo "the $NEXT stage stopped before its last step: not chaining"
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
mkdir -p "$DIR" "$DEC_DIR"
if [ "$(steps_of)" -ge "$TOTAL" ]; then
    # The fine-tune starts from the stage's final record, which the run commits at its last step;
    # written here again if the run ended without it.
    if [ -f "$DIR/ckpt_latest.pt" ] && [ "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["step"])' \
            "${COMMITTED%.safetensors}.json")" -lt "$TOTAL" ]; then
        python3 training/neural/export_record.py --ckpt "$DIR/ckpt_latest.pt" --out "$COMMITTED" --no-validate
    fi
    # shellcheck disable=SC2016
    setsid sh -c '
        python3 training/neural/finetune_decoder.py "$@" < /dev/null
        rm -f "$0/pid"
        exec sh training/neural/keep_training.sh --next decoder
    ' "$DEC_DIR" --run "$DEC_RUN" --from "$COMMITTED" --steps 16000 --lr 1e-5 --lr-drop-at 0.85 --rounding mixed \
        --threads "$THREADS" --out "$DEC_OUT" >> "$DEC_DIR/stdout.log" 2>&1 < /dev/null &
    PID=$!
    echo "$PID" > "$DEC_DIR/pid"
    lower_priority "$PID"
    echo "$RUN is complete; started $DEC_RUN (pid $PID); log: $DEC_DIR/stdout.log"
    exit 0
fi
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
