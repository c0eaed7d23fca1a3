"""`python -m bench [NAME ...] [--users N] [--db sqlite,postgresql]`: run benchmarks, print figures."""
from __future__ import annotations

import argparse

from bench import certificates, imports, recompute

BENCHES = {"recompute": recompute.run, "certificates": certificates.run, "imports": imports.run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=list(BENCHES), choices=list(BENCHES) + [[]])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the generated demo data as a seed and reuse it in later runs (recompute)")
    args = parser.parse_args()
    for name in args.names or list(BENCHES):
        for kind in args.db.split(","):
            print(f"== {name} on {kind}, {args.users:,} water users ==", flush=True)
            options = {"reuse": args.reuse} if name == "recompute" else {}
            BENCHES[name](kind, args.users, **options)


if __name__ == "__main__":
    main()
