"""`asffbench data synth|subset|check`: write the synthetic tiny COCO (or VOC), carve a subset of a
COCO file or of VOC sets, check the configured splits."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asffbench.cli.common import OverridesArg, overrides_list, print_json

data_app = typer.Typer(help="Datasets: the synthetic tiny COCO (or VOC), subsets of COCO files or VOC sets, checks.",
                       no_args_is_help=True)


@data_app.command("synth")
def synth_command(
    out: Path = typer.Option(..., "--out", help="Directory to create (must not exist or be empty)."),
    images: int = typer.Option(160, "--images", help="Number of images, train + val."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same dataset (byte-identical JSON)."),
    size: int = typer.Option(320, "--size", help="Image side in pixels."),
    val_fraction: float = typer.Option(0.25, "--val-fraction", help="Share of the images in val."),
    voc: bool = typer.Option(False, "--voc", help="Write it as a VOCdevkit (07+12 trainval, 07 test)."),
) -> None:
    """Write the synthetic tiny COCO (or, with --voc, its VOCdevkit form).

    COCO: instances_{train,val}.json and train/, val/ JPEG images; --voc: the same images and boxes
    in the VOCdevkit layout.
    """
    from asffbench.data.synth import SynthParams, generate_synth
    from asffbench.data.synth_draw import CLASS_NAMES

    params = SynthParams(images=images, val_fraction=val_fraction, seed=seed, image_size=size)
    if voc:
        from asffbench.data.voc_write import generate_voc_synth

        root = generate_voc_synth(out, params)
        typer.echo(
            f"wrote {root}: {images - params.num_val} trainval (VOC2007 + VOC2012) + {params.num_val} test "
            f"(VOC2007) images of {size} px"
        )
        typer.echo(f"use it with: data=voc data.root={root} data.classes=[{','.join(CLASS_NAMES)}] "
                   f"model.num_classes={len(CLASS_NAMES)}")
        return
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
    out: Path = typer.Option(..., "--out", help="Directory to create (must not exist or be empty)."),
    n: int = typer.Option(..., "--n", help="Number of images to keep."),
    ann: Optional[Path] = typer.Option(None, "--ann", help="COCO annotation file (instances_*.json)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Its image directory."),
    voc: Optional[Path] = typer.Option(None, "--voc", help="A VOCdevkit folder (instead of --ann/--images)."),
    sets: Optional[list[str]] = typer.Option(
        None, "--set", help="With --voc: YEAR_OR_FOLDER:SPLIT to draw from, repeatable (default 2007:test)."
    ),
    seed: int = typer.Option(0, "--seed", help="Same seed, same subset."),
    link: bool = typer.Option(False, "--link/--copy", help="Symlink the images instead of copying."),
) -> None:
    """Write a reproducible N-image subset of a COCO file or (--voc) of VOC sets.

    Of a COCO file: its annotation file plus images/; of VOC sets: a VOCdevkit that data=voc
    data.root=OUT reads.
    """
    from asffbench.data.subset import make_subset, make_voc_subset
    from asffbench.data.voc import parse_sets
    from asffbench.errors import UserError

    if voc is not None:
        if ann is not None or images is not None:
            raise UserError("--voc: give either --voc or --ann and --images, not both")
        pairs = [text.split(":", 1) if ":" in text else [text] for text in (sets or ["2007:test"])]
        new_root = make_voc_subset(voc, parse_sets(pairs, "--set", []), out, n, seed, link)
        typer.echo(f"wrote {n} images under {new_root}; use it with: data=voc data.root={new_root}")
        return
    if sets:
        raise UserError("--set: only with --voc")
    if ann is None or images is None:
        raise UserError("--ann and --images: both required (or --voc for VOC sets)")
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
    from asffbench.settings import data_settings

    data = data_settings(cfg)
    stats = {split: split_stats(load_split(data, split)) for split in SPLITS}
    if as_json:
        print_json(stats)
        return
    for split, info in stats.items():
        if not info["annotated"]:
            typer.echo(f"{split}: {info['images']} images, a test split (image info, no annotations: its AP comes "
                       f"from the evaluation server), {len(info['classes'])} classes, {info['ann_file']}")
            continue
        sizes = info["boxes_by_size"]
        typer.echo(
            f"{split}: {info['images']} images ({info['negatives']} without boxes), {info['boxes']} boxes "
            f"(small {sizes['small']}, medium {sizes['medium']}, large {sizes['large']}), "
            f"{info['crowd']} crowd, {info['difficult']} difficult, {len(info['classes'])} classes, "
            f"{info['ann_file']}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
