"""The reference implementation's training augmentation (`recipe.augment=reference`), step for
step: OpenCV on uint8 (H, W, 3) numpy images with their boxes, every draw from one numpy
Generator so that a sample is a function of its seed.

The reference works on BGR images; these steps work on RGB. Every step is per pixel or
geometric, OpenCV's HSV conversion of RGB equals that of the same pixels in BGR, and the fill
colour is given in RGB order, so the result is the reference's with the channels reversed.
"""

from asffbench.data.reference_augment.pipeline import ReferenceAugment, reference_steps
from asffbench.data.reference_augment.raw_mixup import blend_raw, draw_lambda
from asffbench.data.reference_augment.sample import Sample, Step, make_sample

__all__ = ["ReferenceAugment", "Sample", "Step", "blend_raw", "draw_lambda", "make_sample", "reference_steps"]
