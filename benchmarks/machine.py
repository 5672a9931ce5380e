"""The machine a figure came from: every benchmark script records this with its results.

A figure without its CPU cannot be compared: the same kcnn default ran at 0.08 of float32 with
bfloat16 on a Zen 3 without AVX-512 and at 1.1 on a Zen 5 with AVX512_BF16. `describe()` gives
the CPU (model name, family and model numbers, cores, the SIMD flags that matter), the library
versions, the date and the load average when it was called; `label()` the one-line form used in
benchmarks/README.md's tables.

    python benchmarks/machine.py          # this machine, as the scripts record it (JSON)
"""

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time

# /proc/cpuinfo flag -> the name benchmarks/README.md uses.
SIMD_FLAGS = {
    "avx2": "AVX2",
    "avx512f": "AVX-512F",
    "avx512_vnni": "AVX512_VNNI",
    "avx512_bf16": "AVX512_BF16",
    "amx_tile": "AMX-TILE",
    "amx_bf16": "AMX-BF16",
    "amx_int8": "AMX-INT8",
}
LIBRARIES = ("kcnn", "tensorflow", "keras", "jax", "jaxlib", "torch", "numpy")


def _cpu_info():
    # kcnn's reader, so that the trainer's precision choice and the figures see the same flags.
    from kcnn.training.runtime import cpu_info

    return cpu_info()


def versions():
    """{library: version or None} from the installed distributions (nothing is imported)."""
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def commit():
    """The git commit of the benchmarks' checkout (with "+changes" when it is dirty), or None."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, check=True,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, check=True, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+changes" if dirty else "")


def nvidia_gpus():
    """[{"name", "driver", "memory"}] for each NVIDIA GPU nvidia-smi lists ([] without one)."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
             "--format=csv,noheader"], check=True, capture_output=True, text=True, timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [[field.strip() for field in line.split(",")] for line in out.splitlines() if line]
    return [{"name": r[0], "driver": r[1], "memory": r[2]} for r in rows if len(r) == 3]


def describe():
    """This machine as a benchmark records it.

    Returns:
        {"cpu": {"model_name", "family", "model", "cores", "flags": {README name: bool},
         "bfloat16_kind": "amx_bf16", "avx512_bf16" or None (kcnn's `runtime.cpu_kind`)},
         "gpus": `nvidia_gpus()`, "label": label(), "versions": versions(), "date", "commit",
         "load_average"}
    """
    from kcnn.training.runtime import cpu_kind

    info = _cpu_info()
    cpu = {
        "model_name": info["model_name"],
        "family": info["family"],
        "model": info["model"],
        "cores": info["cores"],
        "flags": {name: flag in info["flags"] for flag, name in SIMD_FLAGS.items()},
        "bfloat16_kind": cpu_kind(info["flags"]),
    }
    return {
        "cpu": cpu,
        "gpus": nvidia_gpus(),
        "label": label(cpu),
        "versions": versions(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def label(cpu=None):
    """One line naming the CPU: model, family/model numbers, cores and its SIMD flags."""
    if cpu is None:
        cpu = describe()["cpu"]
    flags = cpu["flags"]
    simd = ", ".join(name for name, present in flags.items() if present) or "no AVX2"
    if not flags.get("AVX-512F"):
        simd += ", no AVX-512"
    if not any(present for name, present in flags.items() if name.startswith("AMX")):
        simd += ", no AMX"
    return (f"{cpu['model_name']} (family {cpu['family']} model {cpu['model']}, "
            f"{cpu['cores']} cores; {simd})")


def load_average():
    """The 1-minute load average now (other processes sharing the cores disturb timings)."""
    return round(os.getloadavg()[0], 2)


if __name__ == "__main__":
    json.dump(describe(), sys.stdout, indent=2)
    print()
