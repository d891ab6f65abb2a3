"""Synthetic detections with a known true ΔAP, to check the statistics against what they claim.

A synthetic val set has images with one to three ground-truth boxes of one category (small,
medium and large), each with a difficulty shared by every model. A model is a skill: for each box
its latent quality is skill − difficulty + ε (ε fresh for every model and box, the per-image noise
a model has on its own); a box of positive quality is found (a detection on it), otherwise the
detection lands beside it (a false positive, the box missed); the score is the logistic of the
quality plus noise. Every image also gets one background false positive. AP rises with skill.

Two models of equal skill have the same AP on the population of images (true Δ = 0), whatever
they score on one val set; a skill gap gives a true ΔAP that `true_delta` measures on a large set.
Training's randomness is a seed spread of the skill (`seed_spread`): each seed draws its skill around its
model's. Everything goes through the
real matcher and the real paired bootstrap (`bootstrap.replicate_metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Sequence

import numpy as np

from asffbench.engine.coco_match import match_coco
from asffbench.results.intervals.bootstrap import MatchedDetections, bootstrap_weights, matched_from_table, point_metrics, replicate_metrics
from asffbench.results.intervals.multiplicity import Adjusted, adjust
from asffbench.results.intervals.power import PilotRun, estimate_variances, power, z_two_sided
from asffbench.results.intervals.significance import combine_seeds, compare_sides, sample_run
from asffbench.results.intervals.studentized import Studentized

IMAGE_SIZE = 640
SIDES = (24.0, 64.0, 160.0)  # small, medium and large boxes (COCO area ranges)
KEYS = ("AP", "APs", "APm", "APl")  # a report table's bootstrapped AP columns
COMPARED_LEVELS = (0.05, 0.25)  # other levels of the seed test the power check shows beside the default


@dataclass(frozen=True)
class ValSet:
    dataset: dict  # COCO ground truth
    boxes: np.ndarray  # (N, 4) xywh of every ground-truth box
    image: np.ndarray  # (N,) image id of each box
    difficulty: np.ndarray  # (N,) shared by every model


def val_set(images: int, rng: np.random.Generator) -> ValSet:
    counts = rng.integers(1, 4, images)
    image = np.repeat(np.arange(1, images + 1), counts)
    side = np.asarray(SIDES)[rng.integers(0, len(SIDES), image.size)] * rng.uniform(0.8, 1.2, image.size)
    corner = rng.uniform(0, IMAGE_SIZE - 200, (image.size, 2))
    boxes = np.column_stack([corner, side, side])
    annotations = [{"id": i + 1, "image_id": int(img), "category_id": 1, "bbox": [float(v) for v in box],
                    "area": float(box[2] * box[3]), "iscrowd": 0} for i, (img, box) in enumerate(zip(image, boxes))]
    dataset = {"images": [{"id": i, "width": IMAGE_SIZE, "height": IMAGE_SIZE} for i in range(1, images + 1)],
               "categories": [{"id": 1, "name": "thing"}], "annotations": annotations}
    return ValSet(dataset, boxes, image, rng.normal(0.0, 1.0, image.size))


def detections(val: ValSet, skill: float, rng: np.random.Generator) -> list[dict]:
    """One model's COCO results on `val`."""
    quality = skill - val.difficulty + rng.normal(0.0, 1.0, val.image.size)
    boxes = val.boxes.copy()
    missed = quality <= 0
    boxes[missed, 0] += boxes[missed, 2] * 0.7  # IoU about 0.18 with its box: a false positive
    scores = 1 / (1 + np.exp(-(quality + rng.normal(0.0, 0.5, quality.size))))
    out = [{"image_id": int(img), "category_id": 1, "bbox": [float(v) for v in box], "score": float(s)}
           for img, box, s in zip(val.image, boxes, scores)]
    images = np.unique(val.image)
    background = 1 / (1 + np.exp(-rng.normal(-1.0, 1.0, images.size)))
    out += [{"image_id": int(img), "category_id": 1, "bbox": [300.0, 300.0, 50.0, 50.0], "score": float(s)}
            for img, s in zip(images, background)]
    return out


def matched(val: ValSet, skill: float, rng: np.random.Generator) -> MatchedDetections:
    return matched_from_table(match_coco(val.dataset, detections(val, skill, rng)))


def true_delta(skill_gap: float, images: int = 20000, seed: int = 12345, key: str = "AP", sets: int = 1) -> float:
    """ΔAP (fraction) between skills 0 and `skill_gap`: the mean over `sets` large synthetic sets of
    `images` each, the population value (one set of 20,000 images is within about ±0.3 AP of it)."""
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(sets):
        val = val_set(images, rng)
        a, b = point_metrics(matched(val, 0.0, rng)), point_metrics(matched(val, skill_gap, rng))
        deltas.append(b[key] - a[key])
    return float(np.mean(deltas))


@dataclass(frozen=True)
class FamilyDraw:
    deltas: np.ndarray  # (m,) point deltas, rows x keys, percent
    replicates: np.ndarray  # (R, m)
    raw_ci95: list[tuple[float, float]]
    raw_p: list[float]
    studentized: list[Optional[Studentized]]  # each delta's jackknife se (bootstrap-t), percent

    def adjusted(self, method: str) -> list[Adjusted]:
        return adjust(self.deltas, self.replicates, self.raw_ci95, self.raw_p, method, self.studentized)


def family_draw(rows: int, images: int, replicates: int, rng: np.random.Generator,
                skill_gaps: Sequence[float] | None = None, keys: Sequence[str] = KEYS) -> FamilyDraw:
    """One report table's family: `rows` models against a baseline, one seed each, every AP
    column; row j has skill `skill_gaps[j]` (0 for all by default: no true difference). Scored as
    the report scores a table: `sample_run` and `compare_sides` on one shared set of resamples."""
    gaps = list(skill_gaps) if skill_gaps is not None else [0.0] * rows
    val = val_set(images, rng)
    weights = bootstrap_weights(images, replicates, rng)
    sides = [combine_seeds([sample_run(matched(val, gap, rng), weights)], rng) for gap in [0.0] + gaps]
    members = [compare_sides(sides[0], side)[key].scaled(100.0) for side in sides[1:] for key in keys]
    return FamilyDraw(np.array([m.delta for m in members]), np.column_stack([m.replicates for m in members]),
                      [m.ci95 for m in members], [m.p for m in members], [m.studentized for m in members])


def any_significant(draw: FamilyDraw, method: str) -> bool:
    return any(a.significant for a in draw.adjusted(method))


def false_positive_rates(draws: int, rows: int = 4, images: int = 150, replicates: int = 200, seed: int = 0,
                         methods: Sequence[str] = ("none", "holm", "simultaneous")) -> dict[str, float]:
    """Family-wise false-positive rate of each method: the share of null tables with any `*`."""
    rng = np.random.default_rng(seed)
    hits = {m: 0 for m in methods}
    for _ in range(draws):
        draw = family_draw(rows, images, replicates, rng)
        for m in methods:
            hits[m] += any_significant(draw, m)
    return {m: hits[m] / draws for m in methods}


def coverage(draws: int, skill_gap: float, images: int = 150, replicates: int = 200, seed: int = 1,
             truth: float | None = None) -> dict[str, float]:
    """How often the unadjusted 95% interval of one row's ΔAP covers the true ΔAP, and how often
    the simultaneous intervals of a 3-row family (rows at gaps 0, skill_gap, 0) all cover theirs."""
    true_ap = 100 * (true_delta(skill_gap) if truth is None else truth)
    rng = np.random.default_rng(seed)
    single = joint = 0
    for _ in range(draws):
        draw = family_draw(3, images, replicates, rng, skill_gaps=[0.0, skill_gap, 0.0], keys=("AP",))
        lo, hi = draw.raw_ci95[1]
        single += lo <= true_ap <= hi
        adjusted = draw.adjusted("simultaneous")
        joint += all(a.ci95[0] <= t <= a.ci95[1] for a, t in zip(adjusted, (0.0, true_ap, 0.0)))
    return {"true_delta": true_ap, "single": single / draws, "simultaneous": joint / draws}


def synthetic_pilot(skill_gap: float, images: int, replicates: int, rng: np.random.Generator,
                    seeds: int = 2, seed_spread: float = 0.0) -> dict[str, list[PilotRun]]:
    """A pilot for `plan`: two variants, `seeds` seeds each, AP in percent on shared resamples."""
    val = val_set(images, rng)
    weights = bootstrap_weights(images, replicates, rng)
    pilot = {}
    for name, gap in (("base", 0.0), ("variant", skill_gap)):
        runs = []
        for _ in range(seeds):
            m = matched(val, gap + rng.normal(0.0, seed_spread), rng)
            runs.append(PilotRun(100 * point_metrics(m)["AP"], 100 * replicate_metrics(m, weights, threads=1)["AP"]))
        pilot[name] = runs
    return pilot


def study_delta(skill_gap: float, images: int, rng: np.random.Generator, seed_spread: float) -> float:
    """One study's ΔAP (percent): one seed per variant, each seed's skill drawn around its variant's."""
    val = val_set(images, rng)
    a, b = (point_metrics(matched(val, gap + rng.normal(0.0, seed_spread), rng))["AP"] for gap in (0.0, skill_gap))
    return 100 * (b - a)


def predicted_powers(pilot: dict[str, list[PilotRun]], pilot_images: int, delta: float, images: int) -> dict[str, float]:
    """The power one seed per variant on `images` images has for `delta`, as `plan` predicts it from
    `pilot` ("plan"), with σ²_seed at its 95% upper limit, and by other estimators of σ²_seed."""
    v = estimate_variances(pilot, pilot_images)
    own = v.image_seed / (2 * pilot_images)
    seeds = {"plan": v.seed, "at the upper limit": v.seed_upper, "floored": max(0.0, v.seed_excess_raw),
             # the raw difference, negative allowed; only a run's whole own variance floored at 0
             "unfloored": max(-own, v.seed_excess_raw)}
    seeds.update({f"test at {level:g}": estimate_variances(pilot, pilot_images, level).seed for level in COMPARED_LEVELS})
    return {name: power(delta, max(1e-12, replace(v, seed=seed).delta_variance(1, images))) for name, seed in seeds.items()}


def study_outcomes(draws: int, skill_gap: float, images: int, replicates: int, rng: np.random.Generator,
                   seed_spread: float) -> tuple[np.ndarray, Optional[float]]:
    """`draws` studies' ΔAP (one seed per variant) and, without a seed spread, the share whose paired
    bootstrap interval excludes 0 (with one, that interval holds no training randomness: None)."""
    if seed_spread:
        return np.array([study_delta(skill_gap, images, rng, seed_spread) for _ in range(draws)]), None
    deltas, rejected = [], 0
    for _ in range(draws):
        draw = family_draw(1, images, replicates, rng, skill_gaps=[skill_gap], keys=("AP",))
        lo, hi = draw.raw_ci95[0]
        rejected += lo > 0 or hi < 0
        deltas.append(draw.deltas[0])
    return np.asarray(deltas), rejected / draws


def power_check(draws: int, skill_gap: float, images: int, pilot_images: int = 150, replicates: int = 200,
                seed: int = 2, truth: float | None = None, pilots: int = 3, pilot_seeds: int = 4,
                seed_spread: float = 0.0) -> dict:
    """`plan`'s predicted power for one seed per variant on `images` images (the mean over `pilots`
    pilots of `pilot_seeds` seeds per variant on `pilot_images`; beside it the same mean for other
    estimators of σ²_seed on the same pilots, and the power at its 95% upper limit), against the
    observed rejection rates:
    - `observed`: the paired bootstrap's unadjusted interval (seed_spread 0 only: with one seed per
      variant its interval holds no training randomness, so with a seed spread it is no test of `plan`);
    - `observed_known_variance`: the z-test |Δ̂| > 1.96·sd with sd the spread of Δ̂ over the draws,
      the level-5% test `plan`'s normal model describes, with or without a seed spread."""
    true_ap = 100 * (true_delta(skill_gap) if truth is None else truth)
    rng = np.random.default_rng(seed)
    predictions = []
    for _ in range(pilots):
        pilot = synthetic_pilot(skill_gap, pilot_images, replicates, rng, pilot_seeds, seed_spread)
        predictions.append(predicted_powers(pilot, pilot_images, true_ap, images))
    mean = {name: float(np.mean([p[name] for p in predictions])) for name in predictions[0]}
    predicted = [p["plan"] for p in predictions]
    deltas, observed = study_outcomes(draws, skill_gap, images, replicates, rng, seed_spread)
    spread = float(np.std(deltas, ddof=1))
    return {"true_delta": true_ap, "seed_spread": seed_spread, "delta_sd": spread,
            "predicted": mean.pop("plan"), "predicted_median": float(np.median(predicted)),
            "predicted_range": [float(min(predicted)), float(max(predicted))],
            "lower_bound": mean.pop("at the upper limit"),
            "lower_bound_holds": float(np.mean([p["at the upper limit"] <= power(true_ap, spread ** 2)
                                                for p in predictions])),
            "alternatives": mean,
            "observed": observed,
            "observed_known_variance": float(np.mean(np.abs(deltas) > z_two_sided() * spread))}
