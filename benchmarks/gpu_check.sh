#!/bin/sh
# The GPU check, prepared to run as-is on one NVIDIA GPU with Keras on JAX (about 10 minutes; no
# TensorFlow needed there: throughput.py then feeds fit from a generator of host numpy batches).
#
#     sh benchmarks/gpu_check.sh              # results into $KCNN_RESULTS_DIR, by default
#                                             # benchmarks/results/
#
# It records the GPU (model, driver) and versions, says whether Keras' JAX trainer copies each
# batch to the device one step ahead there (what kcnn.training.runtime.feed_device relies on),
# and times, in one process each, ResNet-50 at 224x224 batch 256 and CIFAR ResNet-20 batch 512 in
# mixed_bfloat16 with XLA: kcnn through fit (host batches), kcnn through train_on_batch with the
# batch already on the device (fit close to it = the step does not wait on the host copy), the
# old train_on_batch-on-host-arrays figure, and PyTorch eager and torch.compile (bf16 autocast,
# channels_last) on the same GPU. Each step has its own time limit, so one slow step cannot eat
# the others' time.
set -u
cd "$(dirname "$0")/.."
export KERAS_BACKEND=jax PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TF_CPP_MIN_LOG_LEVEL=2
OUT="${KCNN_RESULTS_DIR:-benchmarks/results}"
DAY=$(date -u +%F)
mkdir -p "$OUT"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
timeout 60 python benchmarks/machine.py > "$OUT/gpu-machine-$DAY.json"
timeout 120 python - <<'PY'
import jax, keras
from keras.src.backend.jax import trainer
ahead = callable(getattr(trainer.JAXEpochIterator, "_one_batch_ahead_iterator", None))
print(f"JAX {jax.__version__} on {jax.default_backend()} {[d.device_kind for d in jax.devices()]},"
      f" Keras {keras.__version__}: one-batch-ahead device copy "
      f"{'in place' if ahead and jax.default_backend() != 'cpu' else 'NOT in place'}")
PY

timeout 330 python benchmarks/throughput.py --models resnet50 --input-size 224 --batch-size 256 \
    --precision mixed_bfloat16 --jit-compile on --mode train --warmup 2 --steps 20 --repeats 3 \
    --torch both --json "$OUT/throughput-fit-gpu-resnet50-224-bf16-$DAY.json" \
    || echo "resnet50 step stopped (exit $?)"
timeout 150 python benchmarks/throughput.py --models resnet20 --batch-size 512 \
    --precision mixed_bfloat16 --jit-compile on --mode train --warmup 2 --steps 30 --repeats 3 \
    --torch both --json "$OUT/throughput-fit-gpu-resnet20-bf16-$DAY.json" \
    || echo "resnet20 step stopped (exit $?)"
ls -l "$OUT"
