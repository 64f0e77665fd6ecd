#!/usr/bin/env python3
"""Classification pre-processing references from torchvision on PIL images (run from the
repository root with the project venv):

    /tmp/py/bin/python Tests/Fixtures/classify/make_preprocess_fixtures.py

The pipelines are the official HRNet-Image-Classification ones (tools/train.py, tools/valid.py):
    val:   Resize(int(size / 0.875)) -> CenterCrop(size) -> ToTensor -> Normalize(ImageNet)
    train: RandomResizedCrop(size) -> RandomHorizontalFlip -> ToTensor -> Normalize
Images are read as torchvision's ImageFolder does (pil_loader: Image.open(f).convert('RGB'), no
EXIF rotation).

Writes (seeded; re-running changes no bytes):
- odd_263x411.png: a portrait test picture of an odd size (upsampled to 256 wide; shrunk for 64).
- preprocess_<name>_<size>.png: the uint8 image after Resize + CenterCrop (size x size, lossless).
- preprocess.json: per case the resized size, the crop box, 64 sampled values (c, y, x, value)
  of the normalized float tensor and its per-channel means; and one resized_crop case (the
  crop + resize that RandomResizedCrop applies for a given box) with its uint8 result.
"""
import json
import os

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.dirname(HERE)
RNG = np.random.default_rng(7)
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def odd_picture():
    w, h = 263, 411
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    # Gradients, stripes and discs with hard edges (compress well; edges exercise the filter).
    r = 255 * y / (h - 1)
    g = 255 * (x / (w - 1)) ** 0.7
    b = np.where((x // 7 + y // 11) % 2 == 0, 40.0, 210.0)
    img = np.stack([r, g, b], -1)
    for _ in range(8):
        cx, cy, rad = RNG.uniform(0, w), RNG.uniform(0, h), RNG.uniform(4, 60)
        img[(x - cx) ** 2 + (y - cy) ** 2 < rad ** 2] = RNG.uniform(0, 255, 3)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(os.path.join(HERE, 'odd_263x411.png'))


def load(path):
    with open(path, 'rb') as f:
        return Image.open(f).convert('RGB')


def main():
    odd_picture()
    images = {'person': os.path.join(FIXTURES, 'imaging', 'person.jpg'), 'odd': os.path.join(HERE, 'odd_263x411.png')}
    out = {'torchvision': torchvision.__version__, 'pillow': Image.__version__, 'mean': MEAN, 'std': STD, 'cases': []}
    for name, path in images.items():
        for size in (224, 64):
            image = load(path)
            resize = int(size / 0.875)
            resized = T.Resize(resize)(image)
            cropped = T.CenterCrop(size)(resized)
            tensor = T.Normalize(MEAN, STD)(T.ToTensor()(cropped))
            file = 'preprocess_%s_%d.png' % (name, size)   # lossless, smaller than raw RGB
            cropped.save(os.path.join(HERE, file))
            w, h = resized.size
            samples = []
            for _ in range(64):
                c, yy, xx = int(RNG.integers(3)), int(RNG.integers(size)), int(RNG.integers(size))
                samples.append([c, yy, xx, float(tensor[c, yy, xx])])
            out['cases'].append({
                'image': os.path.relpath(path, FIXTURES), 'source_size': list(image.size), 'size': size, 'resize': resize,
                'resized_size': [w, h], 'crop_left': int(round((w - size) / 2.0)), 'crop_top': int(round((h - size) / 2.0)),
                'file': file, 'samples': samples,
                'channel_means': [float(tensor[c].double().mean()) for c in range(3)]})
    # RandomResizedCrop's crop + resize for one box (top i, left j, height h, width w).
    image = load(images['person'])
    box = {'top': 37, 'left': 61, 'height': 150, 'width': 120, 'size': 64}
    crop = F.resized_crop(image, box['top'], box['left'], box['height'], box['width'], [64, 64],
                          interpolation=T.InterpolationMode.BILINEAR, antialias=True)
    crop.save(os.path.join(HERE, 'resized_crop_person_64.png'))
    box['file'] = 'resized_crop_person_64.png'
    out['resized_crop'] = box
    with open(os.path.join(HERE, 'preprocess.json'), 'w') as f:
        json.dump(out, f, indent=1)


if __name__ == '__main__':
    torch.manual_seed(0)
    main()
