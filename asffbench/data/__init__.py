"""COCO-format datasets, the synthetic tiny COCO, augmentation and loaders.

Entry points (DESIGN.md): `loaders.build_train_loader(TrainDataSettings, rank=0, world_size=1)` and
`loaders.build_val_loader(DataSettings) -> (loader, dataset)` (settings from `asffbench.settings`). Loaders yield `(images (B, 3, S, S), targets
(M, 7) [image_index, label, x1, y1, x2, y2, weight], metas)`; datasets expose `coco`,
`label_to_cat_id`, `class_names` and `num_classes`. The dataset registry (`sources.DATASETS`) and
the file readers (`coco`, `voc`, `synth`) import no torch, so the results layer may read them:
this package re-exports nothing.
"""
