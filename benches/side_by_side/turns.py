"""Runs the side-by-side clients taking turns, for the client-only section.

Usage: turns.py RUNS WARM OUT_DIR LIBFTRACK_BENCH

Starts libftrack (through its C ABI) and the official @ftrack/api once each,
with BENCH_TURNS set, and lets them run one query at a time in rotation
(round r starts with the first client when r is even, the other when odd).
Each then meets the machine in the state the other met it in, which running
all of one client's runs and then all of the other's does not give (this
machine's speed moves by up to 2x within an hour). The official
ftrack-python-api runs afterwards on its own: its query takes seconds, and
a client left idle that long between its runs comes back slower (node's
query took 65 ms back to back and 106 ms after waiting out Python's turns),
which would flatter the others. Each client runs WARM + RUNS queries in its
process; the first WARM (the JIT of node and the caches and connections of
every client warming up) are dropped. Writes OUT_DIR/canned-<client>.json,
one JSON object per client with the kept runs, as the clients print them.
"""
import json
import os
import subprocess
import sys


def main():
    runs, warm, out_dir, libftrack = (
        int(sys.argv[1]),
        int(sys.argv[2]),
        sys.argv[3],
        sys.argv[4],
    )
    total = str(runs + warm)
    here = os.path.dirname(os.path.abspath(__file__))
    commands = {
        "libftrack": [libftrack, total, "1", "query-only"],
        "python": [sys.executable, os.path.join(here, "ftrack_python.py"), total, "1", "query-only"],
        "javascript": ["node", os.path.join(here, "ftrack_javascript.mjs"), total, "query-only"],
    }
    env = dict(os.environ, BENCH_TURNS="1")
    procs = {}
    for group in (["libftrack", "javascript"], ["python"]):
        for name in group:
            procs[name] = subprocess.Popen(
                commands[name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
            )
        for r in range(runs + warm):
            for name in group[r % len(group) :] + group[: r % len(group)]:
                p = procs[name]
                p.stdin.write("go\n")
                p.stdin.flush()
                line = p.stdout.readline()
                if line.strip() != "turn":
                    sys.exit("turns: %s ended its run %d with %r (exit %s)" % (name, r + 1, line, p.poll()))
    for name, p in procs.items():
        p.stdin.close()
        result = json.loads(p.stdout.read())
        if p.wait() != 0:
            sys.exit("turns: %s exited with %d" % (name, p.returncode))
        for key in ("start_ms", "query_ms"):
            result[key] = result[key][warm:]
        result["warm_up_runs_dropped"] = warm
        with open(os.path.join(out_dir, "canned-%s.json" % name), "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
