"""Is `sentisynth augment`'s cross-validated verdict right? Check it against a test split it never saw.

A user has only their examples, so `augment` can only cross-validate on them. When those examples
were drawn from a built-in dataset (`--dataset NAME --k K`), the dataset's test split tells the truth:
train the run's own classifier (the one its verdict was measured with) on the run's real examples alone, and with the synthetic records the run would use
at each measured ratio (the same seeded order and per-label prefix as the cross-validation), and
score both on the test split.

    python benchmarks/augment_vs_test_split.py runs/augment-rt-k20 --dataset rt-snippets
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sentisynth.data import load_splits
from sentisynth.evaluation.classifiers import evaluate_predictions, make_classifier
from sentisynth.evaluation.crossval import chosen_synthetic, synthetic_order
from sentisynth.records import Example, SyntheticExample
from sentisynth.store import read_json, read_jsonl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="an augment run directory")
    ap.add_argument("--dataset", required=True, help="the built-in dataset the run's examples came from")
    args = ap.parse_args()
    sp = load_splits(args.dataset)
    cv = read_json(args.run / "crossval.json")
    manifest = read_json(args.run / "manifest.json")
    seed = manifest["seeds"]["seed"]
    cv_config = manifest["config"]["cv"]
    real = [Example(text=r["text"], label=r["label"]) for r in read_jsonl(args.run / "augmented.jsonl") if r["source"] == "real"]
    kept = [SyntheticExample.from_dict(r) for r in read_jsonl(args.run / "synthetic.jsonl")]
    test = sp.test.examples()

    def score(train):
        params = {**cv_config.get("classifier_params", {}), "random_state": seed}
        clf = make_classifier(cv_config.get("classifier", "embedding-lr"), **params).fit(train)
        return evaluate_predictions([e.label for e in test], clf.predict(test), sp.label_set.names)

    base = score(real)
    rows = [{"ratio": None, "test_macro_f1": base["macro_f1"], "test_accuracy": base["accuracy"]}]
    print(f"{args.run}: {len(real)} real examples; test split of {args.dataset}: {len(test)} texts; "
          f"classifier {cv_config.get('classifier')} {cv_config.get('classifier_params') or ''}")
    print(f"  real only      test macro-F1 {base['macro_f1']:.1f}  accuracy {base['accuracy']:.1f}")
    by_ratio = {r["ratio"]: r for r in cv["summary"] if r["ratio"] is not None}
    for ratio in cv["ratios"]:
        extra = chosen_synthetic(synthetic_order(kept, seed), ratio, [e.label for e in real])
        m = score(real + extra)
        d = m["macro_f1"] - base["macro_f1"]
        print(f"  ratio {ratio:<6g}   test macro-F1 {m['macro_f1']:.1f} (Δ {d:+.1f})  accuracy {m['accuracy']:.1f}   "
              f"cross-validated Δ {by_ratio[ratio]['macro_f1_delta']:+.1f}")
        rows.append({"ratio": ratio, "test_macro_f1": m["macro_f1"], "test_delta": d, "cv_delta": by_ratio[ratio]["macro_f1_delta"]})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
