"""The timing loop the PyTorch comparison scripts share."""
import time


def seconds_per_iteration(iteration, min_seconds, warmup=2, min_iterations=3):
    """Runs iteration() `warmup` times untimed, then until both min_seconds and
    min_iterations are reached; returns (mean seconds per iteration, count)."""
    for _ in range(warmup):
        iteration()
    count, start = 0, time.perf_counter()
    while True:
        iteration()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and count >= min_iterations:
            return elapsed / count, count


def synchronizer(device):
    """A function that waits until the device's queued work is done (a CUDA
    device's: timings must include it), or does nothing on the CPU."""
    if str(device).startswith("cuda"):
        import torch
        return torch.cuda.synchronize
    return lambda: None
