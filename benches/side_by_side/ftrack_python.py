"""The official ftrack-python-api on the three tasks of the side-by-side benchmark.

Prints one JSON line like libftrack.c. argv[1]: runs; argv[2]: the first user
number of the role task (each run uses 1,000 fresh users); argv[3]
"query-only" leaves the role task out (for the canned server, which replays
reads and must not be sent commits). With BENCH_TURNS set in the environment
it takes turns with the other clients (benches/side_by_side/turns.py): before
each run it reads a line from stdin, after it prints "turn".
"""
import json
import os
import sys
import time

import ftrack_api


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    query_only = len(sys.argv) > 3 and sys.argv[3] == "query-only"
    turns = "BENCH_TURNS" in os.environ

    def end_run(session):
        """Closes the run's session and, taking turns, hands over to the next client."""
        session.close()
        if turns:
            print("turn", flush=True)

    out = {"client": "ftrack-python-api", "start_ms": [], "query_ms": [], "roles_ms": []}
    for r in range(runs):
        if turns and not sys.stdin.readline():
            sys.exit("turns: stdin closed before run %d" % (r + 1))
        t = time.perf_counter()
        session = ftrack_api.Session(auto_connect_event_hub=False)
        out["start_ms"].append((time.perf_counter() - t) * 1e3)

        t = time.perf_counter()
        users = session.query(
            "select username, user_security_roles.security_role.name from User"
        ).all()
        out["query_ms"].append((time.perf_counter() - t) * 1e3)
        assert len(users) >= 10000, len(users)
        if query_only:
            end_run(session)
            continue

        pm = session.query('SecurityRole where name is "Project Manager"').one()
        lo = first + r * 1000
        hi = lo + 999
        t = time.perf_counter()
        chunk = session.query(
            'select username from User where username >= "user%05d" and username <= "user%05d"'
            % (lo, hi)
        ).all()
        assert len(chunk) == 1000, len(chunk)
        for user in chunk:
            session.create(
                "UserSecurityRole",
                {"user": user, "security_role": pm, "is_all_open_projects": False},
            )
        session.commit()
        out["roles_ms"].append((time.perf_counter() - t) * 1e3)
        end_run(session)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
