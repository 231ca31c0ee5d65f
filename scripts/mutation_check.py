#!/usr/bin/env python3
"""Plants the bugs in scripts/mutations.json one at a time and reports which the
tests catch.

For each mutation: replace its `find` text (which must occur exactly once) by
`replace` in its file, rebuild incrementally, run the tests, restore the file.
A mutation is killed when the build fails or a test fails, and survives when
everything passes. Run it before a large change lands, and add every bug a
review finds to mutations.json.

Usage:
  scripts/mutation_check.py [--build-dir build/release] [--quick] [NAME ...]
    --quick   run only each mutation's `tests` (a ctest -R regex) instead of the
              whole suite: minutes instead of an hour on 2 cores
    NAME      only these mutations
The build directory must be configured already (scripts/test.sh does that).
Exit status: 0 when every mutation was killed, 1 when one survived.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(command, log):
    with open(log, "a") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        return subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT).returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="build/release")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("names", nargs="*")
    arguments = parser.parse_args()

    mutations = json.loads((ROOT / "scripts" / "mutations.json").read_text())
    if arguments.names:
        unknown = set(arguments.names) - {m["name"] for m in mutations}
        if unknown:
            sys.exit(f"mutation_check: no mutation named {', '.join(sorted(unknown))}")
        mutations = [m for m in mutations if m["name"] in arguments.names]
    build_dir = ROOT / arguments.build_dir
    if not (build_dir / "CMakeCache.txt").exists():
        sys.exit(f"mutation_check: {build_dir} is not a configured build directory; "
                 "run scripts/test.sh (or cmake --preset release) first")
    log = build_dir / "mutation_check.log"
    log.write_text("")

    survived = []
    for mutation in mutations:
        path = ROOT / mutation["file"]
        original = path.read_text()
        if original.count(mutation["find"]) != 1:
            sys.exit(f"mutation_check: {mutation['name']}: its text occurs "
                     f"{original.count(mutation['find'])} times in {mutation['file']}, not once; "
                     "update scripts/mutations.json")
        started = time.time()
        try:
            path.write_text(original.replace(mutation["find"], mutation["replace"]))
            if run(["cmake", "--build", str(build_dir)], log) != 0:
                verdict = "killed (build)"
            else:
                test = ["ctest", "--test-dir", str(build_dir), "-j2", "--timeout", "900",
                        "--stop-on-failure"]
                if arguments.quick:
                    test += ["-R", mutation["tests"]]
                verdict = "survived" if run(test, log) == 0 else "killed"
        finally:
            path.write_text(original)
        if verdict == "survived":
            survived.append(mutation["name"])
        print(f"{mutation['name']:40s} {verdict:15s} {time.time() - started:6.0f} s  "
              f"({mutation['why']})", flush=True)
    # Leave the build matching the restored sources.
    run(["cmake", "--build", str(build_dir)], log)
    print(f"\n{len(mutations) - len(survived)} of {len(mutations)} mutations killed"
          + (f"; survived: {', '.join(survived)}" if survived else "")
          + f" ({'quick: each mutation' + chr(39) + 's tests' if arguments.quick else 'whole suite'};"
          f" log: {log.relative_to(ROOT)})")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
