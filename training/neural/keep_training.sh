#!/bin/sh
# Starts (or leaves running) the neural codec's training in the background: the first stage of
# the plan below that is not complete, resumed from the best state available. The run gets its own
# process group (setsid) and the lowest CPU weight for its autogroup, so that the rest of the work
# on the machine is not slowed down. The plan is fixed here so that every start continues the same
# run; its history and measurements are in docs/decisions/neural-training.md.
#
#   done     the main run (N 64, M 96), 104k steps: record n64m96_104k (layered coding's base)
#   done     the design A/B from its final state: 96 more latent channels (M 192) won in the
#            training measure at step 122,071: n64m192_122k
#   done     enc_D_na128 (a wider analysis), its decoder fine-tune and a deeper synthesis
#            (blocks3); blocks3_na64 stopped at step 1,800 of 20,000 for the opening below
#   done     open_l69: n64m192_122k's second 96 latents opened (levels 6-9 alone, 3,000 steps)
#   done     open_all (every level at lr 5e-5, 12,000 steps) and its decoder fine-tune
#            open_decoder: the record n64m192_137k
#
# The stages this script runs, in order (name, kind, what it starts from, committed file, steps):
#   open_more     train    open_decoder's model             n64m192_more.safetensors        to 40,000
#                 every level again at lr 5e-5 from step 12,000, x0.1 after 85%; its state at
#                 step 36,000 was the record n64m192_161k
#   more_decoder  decoder  open_more's final record         n64m192_more_decoder.safetensors 16,000
#                 the decoder on the latents files hold (--rounding mixed), 1e-5, x0.1 after 85%;
#                 its end is the record n64m192_165k
#   more2         train    more_decoder's model             n64m192_more2.safetensors       to 72,000
#                 every level at lr 5e-5 from step 40,000 (new crops: seed 4), x0.1 after 85%
#                 (step 61,200)
#   more2_decoder decoder  more2's final record             n64m192_more2_decoder.safetensors 16,000
# (committed files under training/neural/checkpoint/). A train stage resumes from
#   1. training/runs/neural/STAGE/ckpt_latest.pt   (same machine: model, Adam, RNG)
#   2. its committed file, rewritten every 2,000 steps (the float16 record: the float32 training
#      form of an M 192 model is over 8 MiB), else what it starts from;
# a decoder stage from its run folder's ckpt_latest.pt, else its committed file (g_s alone).
#
#   sh training/neural/keep_training.sh            start or report
#   sh training/neural/keep_training.sh --stop     clean stop (saves ckpt_latest.pt)
#
# When a stage reaches its last step its job runs this script again (--next STAGE), which starts
# the next stage; a stopped stage (--stop, or killed) does not chain.
set -eu
cd "$(dirname "$0")/../.."

CK=training/neural/checkpoint
RUNS=training/runs/neural
STAGES="open_more more_decoder more2 more2_decoder"
THREADS=${NIC_TRAIN_THREADS:-2}

# stage_kind STAGE, stage_out STAGE (its committed file), stage_total STAGE (its last step)
stage_kind() { case $1 in *_decoder) echo decoder ;; *) echo train ;; esac; }
stage_out() {
    case $1 in
        open_more) echo "$CK/n64m192_more.safetensors" ;;
        more_decoder) echo "$CK/n64m192_more_decoder.safetensors" ;;
        more2) echo "$CK/n64m192_more2.safetensors" ;;
        more2_decoder) echo "$CK/n64m192_more2_decoder.safetensors" ;;
    esac
}
stage_total() { case $1 in open_more) echo 40000 ;; more2) echo 72000 ;; *) echo 16000 ;; esac; }
# The seed of a train stage's crops, levels and noise: a new one for each stage that starts afresh.
stage_seed() { case $1 in more2) echo 4 ;; *) echo 3 ;; esac; }

running() { [ -f "$RUNS/$1/pid" ] && kill -0 "$(cat "$RUNS/$1/pid")" 2>/dev/null; }

if [ "${1:-}" = "--stop" ]; then
    # The whole process group: the job's shell and the training process in it.
    for s in $STAGES; do
        if running "$s"; then kill -TERM -"$(cat "$RUNS/$s/pid")"; echo "stopping pid $(cat "$RUNS/$s/pid") ($s)"; fi
    done
    exit 0
fi
for s in $STAGES; do
    if running "$s"; then
        echo "$s is running (pid $(cat "$RUNS/$s/pid")); log: $RUNS/$s/stdout.log"
        exit 0
    fi
done

# Steps done by train stage $1: its full checkpoint, else its committed file, else 0.
steps_of() {
    python3 - "$RUNS/$1/ckpt_latest.pt" "$(stage_out "$1")" <<'PY'
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
# Whether the committed decoder fine-tune $1 has done all of its planned steps.
finetune_complete() {
    python3 - "$1" <<'PY'
import json, os, sys
side = os.path.splitext(sys.argv[1])[0] + ".json"
ft = json.load(open(side)).get("finetune", {}) if os.path.exists(sys.argv[1]) else {}
sys.exit(0 if 0 < ft.get("steps_total", 0) <= ft.get("steps_done", 0) else 1)
PY
}
complete() {
    if [ "$(stage_kind "$1")" = decoder ]; then finetune_complete "$(stage_out "$1")"
    else [ "$(steps_of "$1")" -ge "$(stage_total "$1")" ]; fi
}

STAGE=""
PREVIOUS=""
for s in $STAGES; do
    if ! complete "$s"; then STAGE=$s; break; fi
    PREVIOUS=$s
done
if [ -z "$STAGE" ]; then
    echo "training is complete: every stage of the plan has done its steps ($(stage_out "$PREVIOUS"))"
    exit 0
fi
if [ "${1:-}" = "--next" ] && [ "${2:-}" = "$STAGE" ]; then
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
DIR=$RUNS/$STAGE
OUT=$(stage_out "$STAGE")
mkdir -p "$DIR"
# The job: the stage's process, then (its pid file removed, so that the script does not see itself
# running) this script again with --next, which starts the following stage if this one completed.
if [ "$(stage_kind "$STAGE")" = decoder ]; then
    # From the previous train stage's final record, which its run commits at its last step;
    # written here again if the run ended without it.
    FROM=$(stage_out "$PREVIOUS")
    TOTAL=$(stage_total "$PREVIOUS")
    if [ -f "$RUNS/$PREVIOUS/ckpt_latest.pt" ] && [ "$(python3 -c 'import json, os, sys
p = sys.argv[1]
print(json.load(open(p))["step"] if os.path.exists(p) else -1)' "${FROM%.safetensors}.json")" -lt "$TOTAL" ]; then
        python3 training/neural/export_record.py --ckpt "$RUNS/$PREVIOUS/ckpt_latest.pt" --out "$FROM" --no-validate
    fi
    set -- training/neural/finetune_decoder.py --run "$STAGE" --from "$FROM" --steps "$(stage_total "$STAGE")" \
        --lr 1e-5 --lr-drop-at 0.85 --rounding mixed --threads "$THREADS" --out "$OUT"
    FROM_TEXT=$FROM
else
    # With a full checkpoint here --resume continues it and --init-from is not read; without one
    # the run starts from its committed file, else (its first start) from the previous stage.
    if [ -f "$OUT" ]; then INIT=$OUT; else INIT=$(stage_out "$PREVIOUS"); fi
    set -- training/neural/train.py --run "$STAGE" --resume --init-from "$INIT" \
        --N 64 --M 192 --levels-below 2 --threads "$THREADS" --crop 256 --batch 4 \
        --lr 5e-5 --lr-schedule 0.85:0.1 --total-steps "$(stage_total "$STAGE")" --seed "$(stage_seed "$STAGE")" --val-levels 0,2,6,9 \
        --val-every 1000 --val-minutes 1000 --ckpt-minutes 5 --snapshot-every 0 \
        --milestone-every 2000 --milestone-form record --milestone-path "$OUT"
    if [ -f "$DIR/ckpt_latest.pt" ]; then FROM_TEXT=$DIR/ckpt_latest.pt; else FROM_TEXT=$INIT; fi
fi
# shellcheck disable=SC2016
setsid sh -c '
    stage=$1; shift
    python3 "$@" < /dev/null
    rm -f "$0/pid"
    exec sh training/neural/keep_training.sh --next "$stage"
' "$DIR" "$STAGE" "$@" >> "$DIR/stdout.log" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$DIR/pid"
lower_priority "$PID"
echo "started $STAGE (pid $PID, $THREADS threads, from $FROM_TEXT); log: $DIR/stdout.log"
