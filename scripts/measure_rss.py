#!/usr/bin/env python3
"""Resident memory of a seqtrain run over its whole length, to check that it
stays flat (no growth per step).

Usage: scripts/measure_rss.py [--interval S] -- SEQTRAIN ARGS...
Samples VmRSS of the process every S seconds (default 0.5) and prints the
samples as "seconds MiB", then the RSS at 10% of the run, at its end and the
largest, and the growth from 10% to the end; and the largest anonymous part
(RssAnon: the heap, what the process itself allocated) apart from the
file-backed part (RssFile: mapped files such as token shards, which the
kernel can drop and read again).
"""
import argparse
import resource
import subprocess
import sys
import time


def status_mib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except FileNotFoundError:
        return None
    return None


def rss_mib(pid):
    return status_mib(pid, "VmRSS")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    arguments = parser.parse_args()
    command = arguments.command[1:] if arguments.command[:1] == ["--"] else arguments.command
    if not command:
        sys.exit("measure_rss: give the command after --")
    start = time.time()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = []
    anonymous, file_backed = 0.0, 0.0
    while process.poll() is None:
        value = rss_mib(process.pid)
        if value is not None:
            samples.append((time.time() - start, value))
        anonymous = max(anonymous, status_mib(process.pid, "RssAnon") or 0.0)
        file_backed = max(file_backed, status_mib(process.pid, "RssFile") or 0.0)
        time.sleep(arguments.interval)
    if process.returncode != 0:
        sys.exit(f"measure_rss: the command exited with {process.returncode}")
    if len(samples) < 10:
        sys.exit("measure_rss: the run was too short to sample; run more steps")
    for seconds, value in samples:
        print(f"{seconds:8.1f} {value:8.1f}")
    early = samples[len(samples) // 10][1]
    last = samples[-1][1]
    print(f"# {len(samples)} samples over {samples[-1][0]:.1f} s: RSS at 10% {early:.1f} MiB, "
          f"at the end {last:.1f} MiB, largest {max(v for _, v in samples):.1f} MiB, "
          f"growth from 10% to the end {last - early:+.1f} MiB; largest anonymous "
          f"{anonymous:.1f} MiB, largest file-backed {file_backed:.1f} MiB")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"# CPU time: {usage.ru_utime:.1f} s user, {usage.ru_stime:.1f} s system; "
          f"largest RSS by the kernel's count {usage.ru_maxrss / 1024.0:.1f} MiB")


if __name__ == "__main__":
    main()
