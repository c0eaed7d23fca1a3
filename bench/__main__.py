"""`python -m bench [NAME ...] [--users N] [--db sqlite,postgresql]`: run benchmarks, print figures."""
from __future__ import annotations

import argparse

from bench import api_readings, bombs, certificates, cluster, imports, logins, recompute, tax, telemetry, warnings, web

BENCHES = {"recompute": recompute.run, "certificates": certificates.run, "imports": imports.run, "api-readings": api_readings.run,
           "web": web.run, "logins": logins.run, "cluster": cluster.run, "bombs": bombs.run,
           "tax": tax.run, "telemetry": telemetry.run, "warnings": warnings.run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=list(BENCHES), choices=list(BENCHES) + [[]])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the generated demo data as a seed and reuse it in later runs "
                             "(recompute, api-readings, web)")
    parser.add_argument("--seconds", type=int, default=60, help="web: length of the load run against gunicorn")
    parser.add_argument("--readings", type=int, default=30_000,
                        help="api-readings: readings posted, and as many inserted the naive way")
    args = parser.parse_args()
    for name in args.names or list(BENCHES):
        for kind in args.db.split(","):
            print(f"== {name} on {kind}, {args.users:,} water users ==", flush=True)
            options = {"recompute": {"reuse": args.reuse}, "tax": {"reuse": args.reuse}, "warnings": {"reuse": args.reuse},
                       "api-readings": {"reuse": args.reuse, "readings": args.readings},
                       "web": {"reuse": args.reuse, "seconds": args.seconds}}.get(name, {})
            BENCHES[name](kind, args.users, **options)


if __name__ == "__main__":
    main()
