#!/bin/sh
# Starts (or leaves running) the neural codec's main training run in the background, resumed from
# the best state available:
#   1. training/runs/neural/$RUN/ckpt_latest.pt   (same machine: model, Adam, step, RNG, sampler)
#   2. training/neural/checkpoint/n64m96.safetensors   (committed: fp32 weights, step, curve)
#   3. the default record models/neural/<record>.safetensors   (fp16 weights, step, curve)
# The run gets its own process group (setsid) and the lowest CPU weight for its autogroup, so the
# rest of the work on the machine is not slowed down. The plan (budget, schedule) is fixed here so
# that every session continues the same run; see training/neural/README.md, "The main run".
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
    if running; then kill -TERM "$(cat "$PIDFILE")"; echo "stopping $RUN (pid $(cat "$PIDFILE"))"; else echo "$RUN is not running"; fi
    exit 0
fi
if running; then
    echo "$RUN is running (pid $(cat "$PIDFILE")); log: $DIR/stdout.log"
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

# The plan: 400k steps in all; 1e-4 (warm restart of the step-70k record) until 85% of it, then 1e-5.
setsid python3 training/neural/train.py --run "$RUN" --resume $FROM --levels-below 2 \
    --threads "$THREADS" --crop 256 --batch 4 --lr 1e-4 --lr-schedule 0.85:0.1 --total-steps 400000 \
    --val-levels 0,2,6,9 --val-minutes 30 --ckpt-minutes 5 --snapshot-every 10000 \
    --milestone-every 100000 >> "$DIR/stdout.log" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$PIDFILE"
# Lowest weight for the run's autogroup (nice alone is ignored across autogroups). Only once the
# child has its own session: before setsid() it still shares this shell's autogroup.
i=0
while [ "$i" -lt 50 ] && [ "$(ps -o sid= -p "$PID" 2>/dev/null | tr -d ' ')" != "$PID" ]; do sleep 0.1; i=$((i + 1)); done
if [ "$(ps -o sid= -p "$PID" 2>/dev/null | tr -d ' ')" = "$PID" ] && [ -w "/proc/$PID/autogroup" ]; then
    echo 19 > "/proc/$PID/autogroup" || true
fi
echo "started $RUN (pid $PID, $THREADS threads${FROM:+, $FROM}); log: $DIR/stdout.log"
