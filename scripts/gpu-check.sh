#!/usr/bin/env bash
# The GPU check: on a machine with one CUDA GPU, in about 5 to 10 minutes, every GPU path of
# asffbench runs once and prints one line with its figure:
#   train    a short AMP training of the full-size ASFF model (Darknet-53) on the synthetic COCO;
#            PASS when the loss falls
#   eval     COCO evaluation of that model
#   bench    inference speed in fp32, fp16 and bf16, without and with torch.compile (val images)
#   step     the training-step benchmark (bench --mode train, fp16 with the AMP scaler)
#   vs-ultr  whole training epochs of YOLOv8n under recipe=ultralytics against ultralytics' own
#            trainer (benchmarks/bench_train_vs_ultralytics.py, AMP, 4 loader workers each), 320
#            and 640 px; SKIP where ultralytics (a dev extra) is not installed
#   ort      the exported model in ONNX Runtime: bench with the CUDA and TensorRT (fp32, fp16)
#            execution providers, eval with CUDA (PASS when its AP is the eager eval's within 0.1);
#            SKIP, with the reason, where the installed onnxruntime lacks the provider
#            (the GPU build: pip install '.[deploy-gpu]'; TensorRT also needs tensorrt-cu12)
#   sweep    a 2-run sweep (tiny model) through the sweep machinery
# Without a GPU it says so and exits 0. The virtual environment is created (make venv) when
# missing. Exit status: 0 when every check passed or was skipped (or no GPU), 1 otherwise.
#
#   bash scripts/gpu-check.sh [WORK_DIR]      (default: runs/gpu-check; logs in WORK_DIR/logs)
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORK="${1:-runs/gpu-check}"
LOGS="$WORK/logs"
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
CLI="$VENV/bin/asffbench"
FAILED=0

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu-check: no GPU is present (nvidia-smi finds none); nothing to check"
    exit 0
fi
if [ ! -x "$CLI" ]; then
    echo "gpu-check: creating the virtual environment ($VENV) with make venv"
    make venv VENV="$VENV" >/dev/null || { echo "FAIL  setup: make venv failed"; exit 1; }
fi
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "FAIL  setup: nvidia-smi sees a GPU but torch $("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null) cannot use it"
    exit 1
fi
mkdir -p "$LOGS"
echo "gpu-check: $("$PY" -c 'import torch; print(torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)')"

# result NAME STATUS SECONDS FIGURE: one line per check.
result() {
    printf '%-4s  %-26s %-60s (%ss)\n' "$2" "$1" "$4" "$3"
    [ "$2" = PASS ] || [ "$2" = SKIP ] || FAILED=1
}

# report NAME START CODE FIGURE LOG: PASS with FIGURE when the command exited 0 and gave one.
report() {
    if [ "$3" -eq 0 ] && [ -n "$4" ]; then
        result "$1" PASS $((SECONDS - $2)) "$4"
    else
        result "$1" FAIL $((SECONDS - $2)) "exit $3, see $5"
    fi
}

# json_field FILE EXPR: a Python expression over the JSON object `r` read from FILE.
json_field() {
    "$PY" - "$1" "$2" <<'EOF' 2>/dev/null
import json, sys
r = json.load(open(sys.argv[1]))
print(eval(sys.argv[2], {"r": r}))
EOF
}

COMMON=(device=cuda data=synth data.workers=4 model.num_classes=6)
RUN_DIR="$WORK/train"

# --- the tests marked cuda (make test deselects them: they need this device) --------------------
start=$SECONDS
"$PY" -m pytest -q -m cuda -p no:cacheprovider >"$LOGS/cuda-tests.log" 2>&1
code=$?
report "tests marked cuda" $start $code "$(tail -n 1 "$LOGS/cuda-tests.log")" "$LOGS/cuda-tests.log"

# --- train: full-size ASFF, AMP, loss falling -------------------------------------------------
start=$SECONDS
rm -rf "$RUN_DIR"
"$CLI" train "${COMMON[@]}" fusion=asff img_size=320 tricks.multiscale=false tricks.mixup=false \
    train.epochs=4 train.batch_size=16 train.lr=0.01 train.warmup_epochs=1 train.amp=true \
    train.log_every=1 run_dir="$RUN_DIR" >"$LOGS/train.log" 2>&1
code=$?
losses=$("$PY" - "$RUN_DIR/train_log.jsonl" <<'EOF' 2>/dev/null
import json, sys
steps = [json.loads(line) for line in open(sys.argv[1])]
losses = [s["loss"] for s in steps if "event" not in s]
k = max(1, len(losses) // 5)
print(f"{sum(losses[:k]) / k:.3f} {sum(losses[-k:]) / k:.3f} {len(losses)}")
EOF
)
if [ $code -eq 0 ] && [ -n "$losses" ]; then
    read -r first last steps <<<"$losses"
    falling=$("$PY" -c "print(int($last < 0.9 * $first))")
    [ "$falling" = 1 ] && status=PASS || status=FAIL
    result "train (AMP, full-size ASFF)" $status $((SECONDS - start)) "loss $first -> $last over $steps steps (first/last fifth)"
else
    result "train (AMP, full-size ASFF)" FAIL $((SECONDS - start)) "exit $code, see $LOGS/train.log"
fi

# --- eval -------------------------------------------------------------------------------------
start=$SECONDS
"$CLI" eval "${COMMON[@]}" fusion=asff img_size=320 run_dir="$RUN_DIR" --json >"$LOGS/eval.json" 2>"$LOGS/eval.log"
code=$?
ap=$(json_field "$LOGS/eval.json" "f'AP {r[\"AP\"]:.4f}, AP50 {r[\"AP50\"]:.4f} on {r[\"num_images\"]} images'")
report "eval" $start $code "$ap" "$LOGS/eval.log"

# --- bench: fp32 / fp16 / bf16, without and with torch.compile, on val images ---------------
CKPT="$RUN_DIR/checkpoints/last.pt"
for precision in fp32 fp16 bf16; do
    for compile in false default; do
        start=$SECONDS
        name="bench $precision compile=$compile"
        out="$LOGS/bench-$precision-$compile.json"
        timeout 240 "$CLI" bench "${COMMON[@]}" fusion=asff img_size=608 eval.checkpoint="$CKPT" \
            bench.precision=$precision bench.compile=$compile bench.cudnn_benchmark=true \
            bench.warmup=10 bench.iters=30 bench.repeats=1 --json >"$out" 2>"$LOGS/bench-$precision-$compile.log"
        code=$?
        figure=$(json_field "$out" "f'{r[\"fps\"]:.1f} FPS, forward median {r[\"latency_ms\"][\"forward\"][\"median\"]:.2f} ms, NMS {r[\"latency_ms\"][\"nms\"][\"median\"]:.2f} ms, {r[\"input\"][\"kind\"]} images, {r[\"memory\"][\"allocated_mib\"]:.0f} MiB'")
        report "$name" $start $code "$figure" "$LOGS/bench-$precision-$compile.log"
    done
done

# --- step: the training-step benchmark ------------------------------------------------------
start=$SECONDS
out="$LOGS/step.json"
"$CLI" bench --mode train "${COMMON[@]}" fusion=asff img_size=608 bench.precision=fp16 bench.batch_size=8 \
    bench.warmup=3 bench.iters=10 bench.repeats=1 --json >"$out" 2>"$LOGS/step.log"
code=$?
figure=$(json_field "$out" "f'{r[\"images_per_s\"]:.1f} img/s at batch {r[\"batch_size\"]} (loader {r[\"loader\"][\"images_per_s\"]:.0f} img/s), fwd/loss/bwd/opt ' + '/'.join(format(p['median'], '.0f') for p in r['phases_ms'].values()) + f' ms, {r[\"memory\"][\"allocated_mib\"]:.0f} MiB'")
report "step (bench --mode train)" $start $code "$figure" "$LOGS/step.log"

# --- vs-ultr: training epochs against ultralytics' trainer ---------------------------------------
# The same flags run on CPU with --device cpu (smaller --images and --sizes keep that short).
VS_ULTRALYTICS=(benchmarks/bench_train_vs_ultralytics.py --sizes 320,640 --batch 16 --images 84 --epochs 3
                --rounds 2 --workers 4)
start=$SECONDS
if ! "$PY" -c 'import ultralytics' 2>/dev/null; then
    result "train vs ultralytics" SKIP 0 "ultralytics is not installed (pip install '.[dev]')"
else
    timeout 600 "$PY" "${VS_ULTRALYTICS[@]}" --device cuda >"$LOGS/vs-ultralytics.log" 2>&1
    code=$?
    figure=$(grep -o 'summary: .*' "$LOGS/vs-ultralytics.log" | tail -1 | cut -c10-)
    report "train vs ultralytics" $start $code "$figure" "$LOGS/vs-ultralytics.log"
fi

# --- ort: the exported model under ONNX Runtime's CUDA and TensorRT execution providers ---------
# ort_missing PROVIDER: why this install cannot run ONNX Runtime's PROVIDER (nothing when it can).
ort_missing() {
    "$PY" - "$1" <<'EOF' 2>/dev/null || echo "onnx or onnxruntime is not installed (pip install '.[deploy-gpu]')"
import sys
import onnx  # noqa: F401 - the export needs it
import onnxruntime as ort
if sys.argv[1] not in ort.get_available_providers():
    print(f"onnxruntime {ort.__version__} has no {sys.argv[1]} ({', '.join(ort.get_available_providers())}); "
          "the GPU build: pip install '.[deploy-gpu]'" + (" and tensorrt-cu12" if "Tensorrt" in sys.argv[1] else ""))
EOF
}

# ort_report NAME START CODE FIGURE LOG: as report, but a provider that is listed and cannot
# start (its libraries missing: TensorRT's, cuDNN's) is a SKIP that quotes asffbench's one line.
ort_report() {
    if [ "$3" -ne 0 ] && grep -q "could not start" "$5"; then
        result "$1" SKIP $((SECONDS - $2)) "$(grep -o 'could not start.*' "$5" | head -1 | cut -c1-60)"
    else
        report "$@"
    fi
}

ORT=(fusion=asff model.deform_conv=sampled)  # torchvision's deformable conv has no ONNX form
for variant in cuda:fp32 tensorrt:fp32 tensorrt:fp16; do
    provider=${variant%%:*}
    precision=${variant##*:}
    name="ort bench $provider $precision"
    start=$SECONDS
    missing=$(ort_missing "$([ "$provider" = cuda ] && echo CUDA || echo Tensorrt)ExecutionProvider")
    if [ -n "$missing" ]; then
        result "$name" SKIP 0 "$missing"
        continue
    fi
    out="$LOGS/ort-bench-$provider-$precision.json"
    # TensorRT builds its engine in the first warm-up iteration: minutes for the full-size model.
    timeout 600 "$CLI" bench "${COMMON[@]}" "${ORT[@]}" img_size=608 eval.checkpoint="$CKPT" \
        bench.runtime=onnxruntime bench.ort_provider=$provider bench.precision=$precision \
        bench.warmup=10 bench.iters=30 bench.repeats=1 --json >"$out" 2>"$LOGS/ort-bench-$provider-$precision.log"
    code=$?
    figure=$(json_field "$out" "f'{r[\"fps\"]:.1f} FPS, forward median {r[\"latency_ms\"][\"forward\"][\"median\"]:.2f} ms, ' + '>'.join(p.replace('ExecutionProvider', '') for p in r['runtime']['execution_providers'])")
    ort_report "$name" $start $code "$figure" "$LOGS/ort-bench-$provider-$precision.log"
done

start=$SECONDS
missing=$(ort_missing CUDAExecutionProvider)
if [ -n "$missing" ]; then
    result "ort eval cuda" SKIP 0 "$missing"
else
    "$CLI" eval "${COMMON[@]}" "${ORT[@]}" img_size=320 eval.checkpoint="$CKPT" run_dir="$WORK/ort-eval" \
        eval.runtime=onnxruntime bench.ort_provider=cuda --json >"$LOGS/ort-eval.json" 2>"$LOGS/ort-eval.log"
    code=$?
    figure=$("$PY" - "$LOGS/ort-eval.json" "$LOGS/eval.json" <<'EOF' 2>/dev/null
import json, sys
ort, eager = (json.load(open(path)) for path in sys.argv[1:])
verdict = "equal" if abs(ort["AP"] - eager["AP"]) <= 0.001 else "DIFFERENT"
print(f"AP {ort['AP']:.4f} vs eager {eager['AP']:.4f} ({verdict} within 0.1 AP), {ort['runtime']['execution_provider']}")
EOF
)
    if [ $code -eq 0 ] && [ -n "$figure" ] && [ "${figure/DIFFERENT/}" != "$figure" ]; then
        result "ort eval cuda" FAIL $((SECONDS - start)) "$figure"
    else
        ort_report "ort eval cuda" $start $code "$figure" "$LOGS/ort-eval.log"
    fi
fi

# --- sweep: 2 runs ------------------------------------------------------------------------------
start=$SECONDS
cat >"$WORK/gpu-check-sweep.yaml" <<'EOF'
description: the GPU check's 2-run sweep (tiny model, one short epoch each)
axes:
  fusion: [none, asff]
overrides:
  model: tiny
  model.num_classes: 6
  device: cuda
  img_size: 256
  tricks.multiscale: false
  train.epochs: 1
  train.batch_size: 16
  bench.warmup: 5
  bench.iters: 20
  bench.repeats: 1
EOF
"$CLI" sweep "$WORK/gpu-check-sweep.yaml" hydra.sweep.dir="$WORK/sweep" --force --no-live >"$LOGS/sweep.log" 2>&1
code=$?
summary=$(grep -o 'completed [0-9]*, skipped [0-9]*, failed [0-9]*' "$LOGS/sweep.log" | tail -1)
if [ $code -eq 0 ] && [ "${summary%%,*}" = "completed 2" ]; then
    result "sweep (2 runs)" PASS $((SECONDS - start)) "$summary"
else
    result "sweep (2 runs)" FAIL $((SECONDS - start)) "exit $code ${summary:-}, see $LOGS/sweep.log"
fi

[ $FAILED -eq 0 ] && echo "gpu-check: all checks passed" || echo "gpu-check: some checks FAILED (logs in $LOGS)"
exit $FAILED
