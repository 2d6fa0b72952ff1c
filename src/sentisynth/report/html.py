"""``sentisynth report RUN_DIR…``: one self-contained HTML page from run directories.

Each run directory is recognised by what it holds (an ``augment`` run, an experiment grid, a
generation run, a filter run) and becomes one section of blocks — tables, figures, a verdict, an
example browser. Blocks are plain data; one Jinja2 template renders them with autoescaping on, so
every generated text, label and reason is HTML-escaped (a synthetic record containing ``<script>``
renders as text). A Content-Security-Policy admits only the page's own script (by hash) and
``data:`` images, so even an escaping mistake could not run a script from the data. Figures are
PNGs embedded as ``data:`` URIs: the page opens offline, from an e-mail, anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import DataError
from ..evaluation.crossval import format_p, ratio_key
from ..store import read_json, read_jsonl
from . import plots

#: Records per run shown in the example browser (kept + rejected); the rest are counted, not shown.
MAX_EXAMPLES = 400

SCRIPT = """
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('[data-browser]').forEach(function (box) {
    var q = box.querySelector('input'), sel = box.querySelector('select');
    var rows = box.querySelectorAll('tbody tr');
    function update() {
      var t = q.value.toLowerCase(), s = sel.value;
      rows.forEach(function (r) {
        r.hidden = !((s === 'all' || r.dataset.status === s) && r.textContent.toLowerCase().indexOf(t) >= 0);
      });
    }
    q.addEventListener('input', update);
    sel.addEventListener('change', update);
  });
});
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-rendered', ok + '/' + imgs.length);
});
"""


# --------------------------------------------------------------------------- blocks


def table(columns: list[str], rows: list[list[Any]], caption: str = "") -> dict[str, Any]:
    return {"type": "table", "columns": columns, "rows": [[_cell(v) for v in row] for row in rows], "caption": caption}


def image(render: Callable[[], bytes], alt: str, caption: str = "") -> dict[str, Any]:
    """A figure, drawn only when the page needs it (Markdown output skips figures)."""
    return {"type": "image", "render": render, "alt": alt, "caption": caption}


def _materialize(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] != "image":
        return block
    png = block["render"]()
    return {**{k: v for k, v in block.items() if k != "render"}, "src": "data:image/png;base64," + base64.b64encode(png).decode("ascii")}


def heading(title: str) -> dict[str, Any]:
    return {"type": "heading", "text": title}


def text(body: str, kind: str = "note") -> dict[str, Any]:
    return {"type": "text", "text": body, "kind": kind}


def examples(rows: list[dict[str, Any]], total_kept: int, total_rejected: int) -> dict[str, Any]:
    return {"type": "examples", "rows": rows, "total_kept": total_kept, "total_rejected": total_rejected}


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 0.01 and v != 0 else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _pm(mean: float, std: float) -> str:
    return f"{mean:.1f} ± {std:.1f}"


def _delta_ci(d: float, lo: float, hi: float) -> str:
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return ""
    return f"{d:+.1f} [{lo:+.1f}, {hi:+.1f}]" if lo == lo else f"{d:+.1f}"


# --------------------------------------------------------------------------- run kinds


def manifest_of(path: Path) -> dict[str, Any]:
    """A run directory's manifest, or nothing for runs written without one."""
    return read_json(path / "manifest.json") if (path / "manifest.json").is_file() else {}


def _rejected(path: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(path / "rejected.jsonl")) if (path / "rejected.jsonl").is_file() else []


def run_kind(path: Path) -> str:
    """What a run directory holds: augment, experiment, filter or generation — as its manifest's
    ``kind`` says; runs written before manifests said so are recognised by their files."""
    manifest = manifest_of(path)
    if manifest.get("kind") in ("augment", "experiment", "filter", "generation"):
        return manifest["kind"]
    command = str(manifest.get("command", ""))
    if command == "augment" or (path / "crossval.json").is_file():
        return "augment"
    if (path / "summary.csv").is_file():
        return "experiment"
    if command == "filter" or (path / "rejected.jsonl").is_file() and (path / "synthetic.jsonl").is_file():
        return "filter"
    if (path / "synthetic.jsonl").is_file():
        return "generation"
    raise DataError(f"{path}: not a SentiSynth run directory; expected crossval.json (augment), summary.csv "
                    "(experiment) or synthetic.jsonl (generate/filter); fix: pass a directory written by a sentisynth command.")


def section(path: Path) -> dict[str, Any]:
    kind = run_kind(path)
    blocks = {"augment": _augment_blocks, "experiment": _experiment_blocks,
              "filter": _filter_blocks, "generation": _generation_blocks}[kind](path)
    manifest = manifest_of(path)
    env = manifest.get("environment", {})
    facts = [("run directory", str(path)), ("kind", kind), ("status", manifest.get("status", "")),
             ("config hash", str(manifest.get("config_hash", ""))[:16]), ("sentisynth", env.get("sentisynth", "")),
             ("git", str(env.get("git_sha") or "")[:12]), ("updated", manifest.get("updated", ""))]
    return {"title": f"{path.name} ({kind})", "anchor": re.sub(r"[^a-z0-9]+", "-", str(path).lower()).strip("-"),
            "facts": [f for f in facts if f[1]], "blocks": blocks}


def _augment_blocks(path: Path) -> list[dict[str, Any]]:
    cv = read_json(path / "crossval.json")
    manifest = manifest_of(path)
    verdict = {**cv["verdict"], **manifest.get("verdict", {})}
    m = cv["metric"]
    blocks: list[dict[str, Any]] = [{"type": "verdict", "decision": verdict["decision"], "message": verdict["message"],
                                     "good": verdict["decision"] == "use"}]
    if verdict.get("caveat"):
        blocks.append(text("Caveat: " + verdict["caveat"] + ".", "warning"))
    counts = manifest.get("counts", {})
    blocks.append(text(
        f"{cv['n_real']} real examples ({', '.join(f'{k} {v}' for k, v in sorted(cv['real_counts'].items()))}); "
        f"{counts.get('generated', '?')} generated, {counts.get('kept', '?')} kept after filtering. "
        f"{cv['n_repeats']} × {cv['n_splits']}-fold stratified cross-validation; intervals: {verdict.get('interval', '')}. "
        + (f"The augmented dataset holds synthetic records at ratio {verdict['augmented_ratio']:g}."
           if verdict.get("augmented_ratio") else "The augmented dataset holds your examples only.")))
    blocks.append(heading("Cross-validation on your examples"))
    rows = []
    for r in cv["summary"]:
        rows.append([r["condition"], round(r["n_synthetic_mean"]), _pm(r[f"{m}_mean"], r[f"{m}_fold_std"]),
                     _delta_ci(r.get(f"{m}_delta"), r.get(f"{m}_ci_low"), r.get(f"{m}_ci_high")),
                     "" if r.get(f"{m}_p") is None else format_p(r[f"{m}_p"]).lstrip("= "), r.get(f"{m}_p_corrected_t"),
                     _pm(r["accuracy_mean"], r["accuracy_fold_std"]),
                     _delta_ci(r.get("accuracy_delta"), r.get("accuracy_ci_low"), r.get("accuracy_ci_high"))])
    blocks.append(table(["condition", "synthetic / fold", f"{m} (%) ± fold std", f"Δ {m} [CI]", "p (bootstrap)",
                         "p (corrected t, conservative)", "accuracy (%)", "Δ accuracy [CI]"], rows,
                        "Out-of-fold scores on your own examples (held-out folds are only real), averaged over repeats. "
                        "CI: paired stratified bootstrap over your examples, family-wise over the ratios. The corrected "
                        "resampled t-test asks whether the method would help on a new sample of this size."))
    if cv["skipped_ratios"]:
        blocks.append(text("Ratios not measured (too few synthetic records kept): " + "; ".join(
            f"{s['ratio']:g} needs {s['need_per_label']} per label, kept {s['available']}" for s in cv["skipped_ratios"]), "warning"))
    aug = [r for r in cv["summary"] if r["ratio"] is not None]
    if aug:
        blocks.append(heading("Gain by ratio and per class"))
        blocks.append(image(partial(plots.ratio_curves,
            {"real + synthetic": [(r["ratio"], r[f"{m}_delta"], (r[f"{m}_ci_high"] - r[f"{m}_ci_low"]) / 2) for r in aug]},
            (0.0, float("nan")), None, f"Δ {m} vs real only (points)", "Gain by ratio (error bars: family-wise CI)"),
            "gain vs ratio", "Above zero = synthetic data helped at that ratio."))
        gains = {ratio_key(r["ratio"]): r["per_class_f1_delta"] for r in aug}
        blocks.append(image(partial(plots.per_class_gains, gains, "Per-class F1 change by ratio"), "per-class gains"))
        blocks.append(table(["class", "F1 real only", *gains], [[lab, cv["summary"][0]["per_class_f1"][lab], *[g[lab] for g in gains.values()]]
                                                               for lab in cv["labels"]], "Per-class F1 (%) and its change (points)."))
    flips = cv.get("flips", {}).get(ratio_key(verdict["augmented_ratio"])) if verdict.get("augmented_ratio") else None
    if flips:
        blocks.append(heading("Which of your examples flipped"))
        rows = [[change, f["label"], f["text"], f"{f['real_only_correct']:.0%} → {f['augmented_correct']:.0%}"]
                for change in ("fixed", "broken") for f in flips[change]]
        blocks.append(table(["change", "label", "your example", "correct over repeats"], rows,
                            f"Held-out examples that flipped at ratio {flips['ratio']:g}: {len(flips['fixed'])} fixed, {len(flips['broken'])} broken."))
    blocks += _embedding_blocks(path / "analysis")
    if (path / "filtering" / "manifest.json").is_file():
        blocks += _funnel_blocks(read_json(path / "filtering" / "manifest.json"))
    blocks += _diversity_blocks(path)
    blocks.append(_browser(_kept_records(path), _rejected(path)))
    return blocks


def _kept_records(path: Path) -> list[dict[str, Any]]:
    for candidate in (path / "synthetic.jsonl", path / "filtering" / "synthetic.jsonl", path / "generation" / "synthetic.jsonl"):
        if candidate.is_file():
            return list(read_jsonl(candidate))
    return []


def _generation_blocks(path: Path) -> list[dict[str, Any]]:
    manifest = manifest_of(path)
    blocks = []
    if manifest.get("counts"):
        c = manifest["counts"]
        blocks.append(text(f"{c.get('synthetic')} records ({', '.join(f'{k} {v}' for k, v in c.get('per_label', {}).items())}) "
                           f"from {manifest.get('config', {}).get('generator', '?')}, in {manifest.get('seconds', '?')} s."))
    blocks += _embedding_blocks(path / "analysis")
    blocks += _diversity_blocks(path)
    blocks.append(_browser(list(read_jsonl(path / "synthetic.jsonl")), []))
    return blocks


def _filter_blocks(path: Path) -> list[dict[str, Any]]:
    manifest = manifest_of(path)
    blocks = _funnel_blocks(manifest) if manifest.get("filters") else []
    blocks += _diversity_blocks(path)
    blocks.append(_browser(list(read_jsonl(path / "synthetic.jsonl")), _rejected(path)))
    return blocks


def _funnel_blocks(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    filters = manifest.get("filters") or {}
    if not filters:
        return []
    stages = _funnel_stages(filters)
    rows = [[name, *[counts.get(lab, 0) for lab in sorted(stages[0][1])], sum(counts.values())] for name, counts in stages]
    out = [heading("Filter funnel"), image(partial(plots.filter_funnel, stages, "Filter funnel: records left after each filter"), "filter funnel"),
           table(["stage", *sorted(stages[0][1]), "total"], rows, "Records per label after each filter (in chain order).")]
    found = manifest.get("contamination_found")
    if found:
        out.append(text(contamination_sentence(found), "note"))
    return out


def contamination_sentence(found: dict[str, Any]) -> str:
    """``{"contamination": 3}`` (records each contamination filter found too close to the evaluation
    texts) as a sentence a reader understands."""
    parts = []
    for name, n in found.items():
        if n is None:
            continue
        what = "no synthetic record" if n == 0 else "1 synthetic record" if n == 1 else f"{n} synthetic records"
        parts.append(f"{what} {'was' if n in (0, 1) else 'were'} too close to an evaluation text ({name} filter)")
    if not parts:
        return "Contamination check: not measured."
    return "Contamination check: " + "; ".join(parts) + (", and removed." if any(found.values()) else ".")


def _funnel_stages(filters: dict[str, Any]) -> list[tuple[str, dict[str, int]]]:
    """``[("generated", counts), ("after length", counts), …]`` from a chain report."""
    first = next(iter(filters.values()))
    stages = [("generated", dict(first["seen_per_label"]))]
    for name, c in filters.items():
        after = {lab: n - c["rejected_per_label"].get(lab, 0) for lab, n in c["seen_per_label"].items()}
        stages.append((f"after {name}", after))
    return stages


def _diversity_blocks(path: Path) -> list[dict[str, Any]]:
    """distinct-n, self-BLEU and length of the real examples, everything generated and what was kept."""
    from ..analysis.diversity import diversity_report

    sets: dict[str, list[str]] = {}
    if (path / "augmented.jsonl").is_file():
        sets["your examples"] = [r["text"] for r in read_jsonl(path / "augmented.jsonl") if r.get("source") == "real" and r.get("text")]
    generated = path / "generation" / "synthetic.jsonl"
    if generated.is_file():
        sets["generated"] = [r["text"] for r in read_jsonl(generated) if r.get("text")]
    kept = _kept_records(path)
    sets["kept" if generated.is_file() or (path / "rejected.jsonl").is_file() else "synthetic"] = [r["text"] for r in kept if r.get("text")]
    reports = {name: diversity_report(texts) for name, texts in sets.items() if texts}
    if not reports:
        return []
    cols = ["texts", "distinct_1", "distinct_2", "self_bleu", "mean_words"]
    return [heading("Diversity"), table(["set", *cols], [[name, *[r[c] for c in cols]] for name, r in reports.items()],
                  "Diversity: distinct-n (higher = more varied), self-BLEU (lower = less repetitive).")]


def _embedding_blocks(folder: Path) -> list[dict[str, Any]]:
    out = [heading("Real vs synthetic in embedding space (t-SNE)")] if folder.is_dir() else []
    if (folder / "tsne.png").is_file():
        out.append(image((folder / "tsne.png").read_bytes, "t-SNE of real vs synthetic embeddings",
                         "Real (grey) vs synthetic (red) sentence embeddings, projected together."))
    if (folder / "embedding_metrics.json").is_file():
        em = read_json(folder / "embedding_metrics.json")
        cols = ["precision", "recall", "density", "coverage", "spread_ratio"]
        rows = [["all", *[em["overall"].get(c) for c in cols]]]
        rows += [[lab, *[v.get(c) for c in cols]] for lab, v in em.get("per_class", {}).items()]
        out.append(table(["class", *cols], rows, "Fidelity (precision, density) and coverage (recall, coverage) of synthetic "
                                                 "vs real embeddings; spread ratio < 0.5 warns of mode collapse."))
        for w in em.get("warnings", []):
            out.append(text(w, "warning"))
    return out


def _browser(kept: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> dict[str, Any]:
    half = MAX_EXAMPLES // 2
    shown_rejected = rejected[: max(half, MAX_EXAMPLES - len(kept))]
    shown_kept = kept[: MAX_EXAMPLES - len(shown_rejected)]
    rows = [{"status": "kept", "label": r.get("label"), "text": _record_text(r), "details": _meta(r.get("meta", {})),
             "filter": "", "score": "", "reason": ""} for r in shown_kept]
    rows += [{"status": "rejected", "label": r["record"].get("label"), "text": _record_text(r["record"]),
              "details": _meta(r["record"].get("meta", {})), "filter": r.get("filter", ""), "score": _cell(r.get("score")),
              "reason": r.get("reason", "")} for r in shown_rejected]
    return examples(rows, len(kept), len(rejected))


def _record_text(r: dict[str, Any]) -> str:
    if r.get("text") is not None:
        return str(r["text"])
    emb = r.get("embedding") or []
    return f"(embedding, {len(emb)} dimensions)"


def _meta(meta: dict[str, Any]) -> str:
    skip = {"instruction", "id", "slot"}
    return "; ".join(f"{k}: {_cell(v) if not isinstance(v, (dict, list)) else _short(v)}" for k, v in meta.items() if k not in skip)


def _short(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_cell(x)}" for k, x in list(v.items())[:6]) + "}"
    return "[" + ", ".join(_cell(x) for x in v[:6]) + (", …" if len(v) > 6 else "") + "]"


# --------------------------------------------------------------------------- experiment grids


def _experiment_blocks(path: Path) -> list[dict[str, Any]]:
    import pandas as pd

    summary = pd.read_csv(path / "summary.csv")
    # the grid's summary metric (accuracy, or macro_f1 for `metric: macro_f1` grids)
    m = "accuracy" if "accuracy_std" in summary.columns else "macro_f1"
    blocks: list[dict[str, Any]] = []
    rows = []
    for r in summary.to_dict("records"):
        ceiling = r["kind"] == "ceiling"
        ci = r.get(f"{m}_ci95")
        rows.append([r["dataset"], r["classifier"], "all" if ceiling else int(r["k"]), r["condition"],
                     "" if r["kind"] in ("real", "ceiling") else _cell(r.get("ratio")), int(r["n_seeds"]),
                     _cell(r[f"{m}_mean"]) if ceiling else _pm(r[f"{m}_mean"], r[f"{m}_std"]),
                     "" if ceiling or ci != ci else f"[{r[f'{m}_mean'] - ci:.1f}, {r[f'{m}_mean'] + ci:.1f}]",
                     "" if r.get("delta_vs_real") != r.get("delta_vs_real") else f"{r['delta_vs_real']:+.1f}",
                     r.get("p_ttest"), r.get("gap_closed")])
    blocks.append(heading("Results"))
    blocks.append(table(["dataset", "classifier", "k", "condition", "ratio", "seeds", f"{m} (%) mean ± std", "95% CI",
                         "Δ vs real", "paired p", "gap closed"], rows, "Test-set results over seeds (summary.csv)."))
    cells = list(summary[summary.kind != "ceiling"].to_dict("records"))
    ceilings = {(r["dataset"], r["classifier"]): r[f"{m}_mean"] for r in summary[summary.kind == "ceiling"].to_dict("records")}
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in cells:
        groups[(r["dataset"], r["classifier"], int(r["k"]))].append(r)
    for (ds, clf, k), rs in groups.items():
        base = next((r for r in rs if r["kind"] == "real"), None)
        series: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for r in rs:
            if r["kind"] in ("augment", "synthetic_only") and r.get("ratio") == r.get("ratio"):
                series[r["condition"]].append((float(r["ratio"]), r[f"{m}_mean"], r.get(f"{m}_ci95", float("nan"))))
        if series:
            blocks.append(image(partial(plots.ratio_curves, dict(series), (base[f"{m}_mean"], base[f"{m}_ci95"]) if base else None,
                                                   ceilings.get((ds, clf)), f"{m} (%)", f"{ds}, {clf}, k = {k}: {m} vs ratio"),
                                f"{m} vs ratio {ds} k={k}", "Error bars and band: 95% CI over seeds."))
        gains = _per_class_gains(path, ds, clf, k, rs, m)
        if gains:
            blocks.append(image(partial(plots.per_class_gains, gains, f"{ds}, {clf}, k = {k}: per-class F1 change (best ratio of each condition)"),
                                "per-class gains"))
    blocks += _coverage_blocks(path)
    for folder in sorted(p for p in (path / "analysis").glob("*/*") if p.is_dir()):
        blocks += [text(f"{folder.parent.name}, condition {folder.name}: its synthetic records (first seed, largest k) "
                        f"against a sample of the training pool."), *_embedding_blocks(folder)]
    blocks += _experiment_synthetic_blocks(path)
    return blocks


def _coverage_blocks(path: Path) -> list[dict[str, Any]]:
    """Coverage of the test set and the flipped sentences' profile, for grids run with ``coverage: true``."""
    from ..evaluation.stats import COVERAGE_COLUMNS, FLIP_COLUMNS, coverage_tables

    cov_rows, flip_rows = coverage_tables(read_json(p) for p in sorted((path / "eval").rglob("seed*/*.json")))
    if not cov_rows:
        return []
    return [heading("Imbalance vs coverage"),
            table(COVERAGE_COLUMNS, cov_rows, "How much of the test set the training set reaches: test tokens whose word "
                  "occurs in training, and test sentences with a training sentence inside their 5-NN ball (MiniLM)."),
            table(FLIP_COLUMNS, flip_rows, "Test sentences that augmentation fixed or broke, against real-only with the "
                  "same seed: out-of-vocabulary rate against the real seed set, similarity to the nearest real and "
                  "synthetic training sentence.")]


def _per_class_gains(path: Path, ds: str, clf: str, k: int, rows: list[dict[str, Any]],
                     m: str = "accuracy") -> dict[str, dict[str, float]]:
    """Mean per-class F1 over seeds, minus real-only, at each augmented condition's best ratio."""
    import numpy as np

    folder = path / "eval" / ds / clf / f"k{k}"
    if not folder.is_dir():
        return {}
    per: dict[str, list[dict[str, float]]] = defaultdict(list)
    for f in folder.glob("seed*/*.json"):
        r = read_json(f)
        per[f.stem].append(r.get("per_class_f1") or {})
    real = per.get("real")
    if not real:
        return {}
    labels = sorted(real[0])
    real_mean = {lab: float(np.mean([p[lab] for p in real])) for lab in labels}
    best: dict[str, tuple[float, str]] = {}
    for r in rows:
        if r["kind"] == "augment" and r.get("ratio") == r.get("ratio"):
            stem = f"{r['condition']}@{r['ratio']:g}"
            if r["condition"] not in best or r[f"{m}_mean"] > best[r["condition"]][0]:
                best[r["condition"]] = (r[f"{m}_mean"], stem)
    out = {}
    for cond, (_, stem) in list(best.items())[:8]:
        if per.get(stem):
            out[stem] = {lab: float(np.mean([p.get(lab, 0.0) for p in per[stem]])) - real_mean[lab] for lab in labels}
    return out


def _experiment_synthetic_blocks(path: Path) -> list[dict[str, Any]]:
    """Filter funnels (summed over seeds) and an example browser (first seed) for the grid's conditions."""
    root = path / "synthetic"
    if not root.is_dir():
        return []
    blocks: list[dict[str, Any]] = []
    funnels: dict[str, dict[str, Any]] = {}
    for meta_path in sorted(root.glob("*/k*/seed*/*.meta.json")):
        if meta_path.name.startswith("raw-"):
            continue
        cond = meta_path.name[: -len(".meta.json")]
        for name, c in (read_json(meta_path).get("filters") or {}).items():
            agg = funnels.setdefault(cond, {}).setdefault(name, {"seen_per_label": defaultdict(int), "rejected_per_label": defaultdict(int)})
            for lab, n in c["seen_per_label"].items():
                agg["seen_per_label"][lab] += n
            for lab, n in c["rejected_per_label"].items():
                agg["rejected_per_label"][lab] += n
    if funnels:
        blocks.append(heading("Filter funnel"))
    for cond, filters in list(funnels.items())[:12]:
        stages = _funnel_stages(filters)
        blocks.append(image(partial(plots.filter_funnel, stages, f"{cond}: filter funnel (all seeds)"), f"funnel {cond}"))
    first_seed = sorted(root.glob("*/k*/seed*"), key=lambda p: (str(p.parent), int(p.name[4:]) if p.name[4:].isdigit() else 0))
    if first_seed:
        folder = first_seed[0]
        kept, rejected = [], []
        for f in sorted(folder.glob("*.jsonl")):
            if f.name.startswith("raw-"):
                continue
            if f.name.endswith(".rejected.jsonl"):  # grids written before conditions were filter runs
                rejected += [{**r, "filter": f"{f.name[:-len('.rejected.jsonl')]}: {r.get('filter', '')}"} for r in read_jsonl(f)]
            else:
                kept += [{**r, "meta": {"condition": f.stem, **r.get("meta", {})}} for r in read_jsonl(f)]
        for f in sorted(folder.glob("*.filtering/rejected.jsonl")):
            cond = f.parent.name[: -len(".filtering")]
            rejected += [{**r, "filter": f"{cond}: {r.get('filter', '')}"} for r in read_jsonl(f)]
        blocks.append(text(f"Example browser: the synthetic records of {folder.relative_to(root)} (every condition)."))
        blocks.append(_browser(kept, rejected))
    return blocks


# --------------------------------------------------------------------------- page


def build_report(run_dirs: Iterable[str | Path], title: str = "SentiSynth report") -> str:
    """The HTML text of the report for ``run_dirs``."""
    import jinja2

    sections = []
    for d in run_dirs:
        path = Path(d)
        if not path.is_dir():
            raise DataError(f"{path}: no such run directory; fix: pass directories written by sentisynth commands.")
        s = section(path)
        sections.append({**s, "blocks": [_materialize(b) for b in s["blocks"]]})
    env = jinja2.Environment(loader=jinja2.PackageLoader("sentisynth", "report"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
    return env.get_template("template.html.j2").render(title=title, sections=sections, script=SCRIPT, script_hash=script_hash)


def write_report(run_dirs: Iterable[str | Path], out: str | Path, title: str = "SentiSynth report") -> Path:
    """Write the report atomically to ``out`` (built fully in memory first: no half-written page);
    a ``.md`` path gets the Markdown tables instead of the HTML page."""
    from ..store import write_atomic

    if Path(out).suffix.lower() in (".md", ".markdown"):
        from .markdown import build_markdown

        text = build_markdown(list(run_dirs), title if title != "SentiSynth report" else "SentiSynth benchmarks")
    else:
        text = build_report(list(run_dirs), title)
    write_atomic(out, text)
    return Path(out)
