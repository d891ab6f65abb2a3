"""ultralytics' training augmentation (`recipe.augment=ultralytics`, the YOLOv8 recipe): each
image resized to the input size on its long side, a mosaic of four on a twice-as-large canvas,
a random affine (scale and translation) cropping back to the input size, HSV jitter and a
horizontal flip. OpenCV on uint8 (H, W, 3) RGB numpy images with their boxes (the reference
recipe's `Sample`), every draw from one numpy Generator, so a sample is a function of its seed.

ultralytics works on BGR images; these steps are per pixel or geometric and OpenCV's HSV of RGB
pixels equals that of the same pixels in BGR, so the result is its own with the channels swapped.
"""

from asffbench.data.ultralytics_augment.mosaic_buffer import MosaicBuffer, buffer_capacity
from asffbench.data.ultralytics_augment.ultralytics_pipeline import UltralyticsAugment

__all__ = ["MosaicBuffer", "UltralyticsAugment", "buffer_capacity"]
