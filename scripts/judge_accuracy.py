"""How well does an LLM judge label a dataset's dev texts, before and after per-label calibration? (issue 20)

The teacher filter's ``llm`` judge reads a text and the label words and answers with a distribution; with
``calibrate`` it first fits one offset per label on the seed examples. This script measures both on real,
labeled dev texts (never test), so a judge can be chosen before it filters anything:

    python scripts/judge_accuracy.py trec --seed-file runs/grounding/seed-trec.csv --n 300 \\
        --model qwen2.5-0.5b-instruct --params '{"instruction": "...", "label_words": {...}}' [--l2 0.1 0.01 0.001]

Prints (and writes with ``--out``) the calibration offsets, accuracy and macro-F1 on the seed examples and on
``--n`` dev texts drawn with seed 0, and how often the judge answers each label.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", help="a built-in dataset with a dev split (sst2, trec, banking77, ...)")
    ap.add_argument("--seed-file", required=True, help="CSV of the seed examples (text,label) that calibrate the judge")
    ap.add_argument("--n", type=int, default=300, help="dev texts to score (drawn with seed 0)")
    ap.add_argument("--model", default="qwen2.5-0.5b-instruct")
    ap.add_argument("--params", default="{}", help="JSON: more teacher-filter parameters (instruction, label_words)")
    ap.add_argument("--l2", type=float, nargs="*", default=[],
                    help="also refit the offsets with these L2 penalties (the default is fit_label_offsets')")
    ap.add_argument("--out", help="write the result here as JSON")
    args = ap.parse_args()

    import pandas as pd
    from sklearn.metrics import f1_score

    import sentisynth as ss
    from sentisynth.filters.base import make_filter
    from sentisynth.filters.teacher import fit_label_offsets
    from sentisynth.records import Example

    seed = pd.read_csv(args.seed_file)
    seeds = [Example(text=str(t), label=str(y)) for t, y in zip(seed["text"], seed["label"])]
    dev_split = ss.load_dataset(args.dataset).dev
    if dev_split is None:
        raise SystemExit(f"{args.dataset} has no dev split; a judge is chosen on dev, never on test.")
    idx = random.Random(0).sample(range(len(dev_split)), min(args.n, len(dev_split)))
    dev = [Example(text=dev_split.texts[i], label=dev_split.labels[i]) for i in idx]
    judge = make_filter("teacher", teacher="llm", model=args.model, calibrate=True, **json.loads(args.params)).fit(seeds)
    labels = judge.labels_
    y = np.asarray([labels.index(e.label) for e in dev])
    result = {"dataset": args.dataset, "model": args.model, "n_dev": len(dev), "calibration": judge.calibration_}
    raw = judge._raw_proba(dev, labels)
    scored = [("raw", raw), ("calibrated", judge.predict_proba(dev, labels))]
    if args.l2:
        seed_log = np.log(np.clip(judge._raw_proba(seeds, labels), 1e-12, None))
        seed_y = np.asarray([labels.index(e.label) for e in seeds])
        dev_log = np.log(np.clip(raw, 1e-12, None))
        scored += [(f"l2={l2:g}", dev_log + fit_label_offsets(seed_log, seed_y, l2)) for l2 in args.l2]
    for name, probs in scored:  # argmax of log-probabilities + offsets = argmax of the calibrated distribution
        pred = probs.argmax(1)
        result[name] = {"accuracy": round(100 * float((pred == y).mean()), 1),
                        "macro_f1": round(100 * float(f1_score(y, pred, average="macro")), 1),
                        "answers": {lab: int((pred == k).sum()) for k, lab in enumerate(labels)}}
    judge.close()
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
