"""Train and evaluate one config with several training seeds, then pool the results
(:mod:`metarl.seeds`).

Each seed is a full ``metarl train`` run in ``OUT/seed_<s>`` (resumed when it already exists),
evaluated with its own seed, so the ``seed`` column of the pooled ``OUT/eval/curves.csv`` is the
training seed. The pooled summary is the mean over tasks of each task's mean over seeds, with a
95% confidence interval over tasks; ``OUT/plots/adaptation.png`` draws it.

With ``--pool-only``, nothing is trained or evaluated: the seeds' existing evaluations (for
instance redone with ``metarl evaluate OUT/seed_<s> --checkpoint best_val``) are pooled, with the
evaluation settings each recorded in ``eval/eval.toml``. ``--from A B ...`` pools each seed's
evaluations from ``A/seed_<s>``, ``B/seed_<s>``, ... into ``OUT``: one directory per group of
methods evaluated on its own (copies of the same runs, each evaluated with ``metarl evaluate
--methods ...``); the groups must hold different methods and the same evaluation settings.

Usage: ``python experiments/reptile_seeds.py experiments/navigation2d.toml --seeds 0 1 2
[--out runs/navigation2d_seeds] [--set key=value ...] [--pool-only [--from DIR ...]]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from metarl.seeds import train_seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", help="directory (default runs/<config name>_seeds)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--pool-only", action="store_true",
                        help="pool the seeds' existing evaluations; train and evaluate nothing")
    parser.add_argument("--from", dest="sources", type=Path, nargs="+", metavar="DIR",
                        help="with --pool-only: pool the evaluations of DIR/seed_<s> for every "
                             "DIR (default: --out)")
    args = parser.parse_args()
    out = Path(args.out or f"runs/{Path(args.config).stem}_seeds")
    try:
        text = train_seeds(Path(args.config), args.seeds, out, args.set, args.pool_only,
                           args.sources or ())
    except ValueError as err:
        raise SystemExit(f"reptile_seeds.py: error: {err}") from None
    print(text)


if __name__ == "__main__":
    main()
