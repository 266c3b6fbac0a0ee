"""What the numbers were measured on: printed with every benchmark."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, object]:
    import numpy
    import torch

    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def describe() -> str:
    m = machine()
    return f"{m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, torch {m['torch']} ({m['torch_threads']} threads)"
