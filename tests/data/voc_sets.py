"""A tiny VOC-format dataset written by the tests: both years, a difficult object, a non-square image."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

# (folder, id, (width, height), [(class, xmin, ymin, xmax, ymax, difficult)]) in VOC 1-based pixels.
IMAGES = [
    ("VOC2007", "000001", (160, 96), [("cat", 11, 21, 70, 80, 0), ("dog", 91, 11, 150, 60, 1)]),
    ("VOC2007", "000002", (128, 128), [("dog", 1, 1, 128, 64, 0)]),
    ("VOC2007", "000003", (96, 144), [("cat", 20, 30, 80, 130, 0), ("bird", 5, 5, 20, 25, 0)]),
    ("VOC2012", "2012_000001", (120, 80), [("bird", 30, 10, 90, 70, 0)]),
]
SPLITS = {("VOC2007", "trainval"): ["000001", "000002"], ("VOC2007", "test"): ["000003", "000001"],
          ("VOC2012", "trainval"): ["2012_000001"]}


def xml_text(file_name: str, size: tuple[int, int], objects: list) -> str:
    parts = [f"<annotation><folder>VOC</folder><filename>{file_name}</filename>",
             f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>"]
    for name, xmin, ymin, xmax, ymax, difficult in objects:
        parts.append(
            f"<object><name>{name}</name><pose>Left</pose><truncated>0</truncated><difficult>{difficult}</difficult>"
            f"<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>"
        )
    return "".join(parts) + "</annotation>\n"


def write_tiny_voc(root: Path) -> Path:
    """Write the set under `root` (a VOCdevkit folder) and return it."""
    for folder, voc_id, size, objects in IMAGES:
        base = root / folder
        (base / "Annotations").mkdir(parents=True, exist_ok=True)
        (base / "JPEGImages").mkdir(parents=True, exist_ok=True)
        image = Image.new("RGB", size, (90, 90, 90))
        draw = ImageDraw.Draw(image)
        for k, (_, xmin, ymin, xmax, ymax, _) in enumerate(objects):
            draw.rectangle([xmin - 1, ymin - 1, xmax - 1, ymax - 1], fill=(220, 40 + 80 * k, 40))
        image.save(base / "JPEGImages" / f"{voc_id}.jpg", quality=95)
        (base / "Annotations" / f"{voc_id}.xml").write_text(xml_text(f"{voc_id}.jpg", size, objects))
    for (folder, split), ids in SPLITS.items():
        path = root / folder / "ImageSets" / "Main" / f"{split}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{i}\n" for i in ids))
    return root
