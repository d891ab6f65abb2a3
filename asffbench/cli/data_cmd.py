"""`asffbench data synth|subset`: write the synthetic tiny COCO, or carve a subset of a COCO file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asffbench.cli.common import OverridesArg, overrides_list, print_json

data_app = typer.Typer(help="Datasets: the synthetic tiny COCO, subsets of COCO annotation files.",
                       no_args_is_help=True)


@data_app.command("synth")
def synth_command(
    out: Path = typer.Option(..., "--out", help="Directory to create (must not exist or be empty)."),
    images: int = typer.Option(160, "--images", help="Number of images, train + val."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same dataset (byte-identical JSON)."),
    size: int = typer.Option(320, "--size", help="Image side in pixels."),
    val_fraction: float = typer.Option(0.25, "--val-fraction", help="Share of the images in val."),
) -> None:
    """Write the synthetic tiny COCO: instances_{train,val}.json and train/, val/ JPEG images."""
    from asffbench.data.synth import CLASS_NAMES, SynthParams, generate_synth

    params = SynthParams(images=images, val_fraction=val_fraction, seed=seed, image_size=size)
    root = generate_synth(out, params)
    typer.echo(
        f"wrote {root}: {images - params.num_val} train + {params.num_val} val images of {size} px, "
        f"{len(CLASS_NAMES)} classes ({', '.join(CLASS_NAMES)})"
    )
    typer.echo(
        f"use it with: data=folder data.train.ann={root / 'instances_train.json'} "
        f"data.train.images={root / 'train'} data.val.ann={root / 'instances_val.json'} "
        f"data.val.images={root / 'val'} model.num_classes={len(CLASS_NAMES)}"
    )


@data_app.command("subset")
def subset_command(
    ann: Path = typer.Option(..., "--ann", help="COCO annotation file (instances_*.json)."),
    images: Path = typer.Option(..., "--images", help="Its image directory."),
    out: Path = typer.Option(..., "--out", help="Directory to create (must not exist or be empty)."),
    n: int = typer.Option(..., "--n", help="Number of images to keep."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same subset."),
    link: bool = typer.Option(False, "--link/--copy", help="Symlink the images instead of copying."),
) -> None:
    """Write a reproducible N-image subset: its annotation file plus images/ (copies or links)."""
    from asffbench.data.subset import make_subset

    new_ann = make_subset(ann, images, out, n, seed, link)
    typer.echo(f"wrote {new_ann} and {n} images under {new_ann.parent / 'images'}")


@data_app.command("check")
def check_command(
    overrides: Optional[list[str]] = OverridesArg,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Load and validate the train and val splits the config selects; print their statistics."""
    from asffbench.config.compose import compose_config

    cfg = compose_config(overrides_list(overrides))  # a config error before torch loads
    from asffbench.data.loaders import load_split
    from asffbench.data.sources import SPLITS
    from asffbench.data.stats import split_stats

    stats = {split: split_stats(load_split(cfg, split)) for split in SPLITS}
    if as_json:
        print_json(stats)
        return
    for split, info in stats.items():
        sizes = info["boxes_by_size"]
        typer.echo(
            f"{split}: {info['images']} images ({info['negatives']} without boxes), {info['boxes']} boxes "
            f"(small {sizes['small']}, medium {sizes['medium']}, large {sizes['large']}), "
            f"{info['crowd']} crowd, {len(info['classes'])} classes, {info['ann_file']}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
