#!/usr/bin/env python3
"""Reference outputs of cv2.resize(INTER_LINEAR) for Imaging's OpenCVResize (run from the repo root):

    /tmp/py/bin/python Tests/Fixtures/imaging/opencv_resize/make_opencv_resize_fixtures.py

Writes source.rgb (a seeded 37x53 RGB image: noise over gradients and hard edges, uint8 HWC),
source.f32 (the same image as float32 HWC, normalized like the official segmentation input so
values are negative and positive), and for each case in cases.json the uint8 result `<name>.rgb`
and the float32 result `<name>.f32` (HWC, little-endian), and INTER_NEAREST on the first
channel (a one-channel map, as label maps are resized) `<name>.nearest.gray`. Cases cover upscales, downscales,
the exact 2x reduction, odd ratios and one-axis resizes. Seeded: re-running changes no bytes.
"""
import json
import os

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
H, W = 37, 53
CASES = [  # (name, out width, out height)
    ('up_odd', 91, 64), ('up_2x', 106, 74), ('down_odd', 31, 23), ('down_half', 26, 18),
    ('down_much', 9, 5), ('wide_only', 80, 37), ('tall_only', 53, 50), ('mixed', 70, 20), ('one_pixel', 1, 1),
]


def main():
    rng = np.random.default_rng(20240611)
    y, x = np.mgrid[0:H, 0:W]
    base = np.stack([x * 255 // (W - 1), y * 255 // (H - 1), ((x // 7 + y // 5) % 2) * 255], -1)
    img = np.clip(base + rng.integers(-40, 41, (H, W, 3)), 0, 255).astype(np.uint8)
    img[10:14, :, :] = (250, 5, 128)   # a hard horizontal band
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    f = img.astype(np.float32) / 255.0
    f -= mean
    f /= std
    img.tofile(os.path.join(HERE, 'source.rgb'))
    f.astype('<f4').tofile(os.path.join(HERE, 'source.f32'))
    cases = []
    for name, ow, oh in CASES:
        cv2.resize(img, (ow, oh), interpolation=cv2.INTER_LINEAR).tofile(os.path.join(HERE, name + '.rgb'))
        cv2.resize(f, (ow, oh), interpolation=cv2.INTER_LINEAR).astype('<f4').tofile(os.path.join(HERE, name + '.f32'))
        gray = np.ascontiguousarray(img[:, :, 0])
        cv2.resize(gray, (ow, oh), interpolation=cv2.INTER_NEAREST).tofile(os.path.join(HERE, name + '.nearest.gray'))
        cases.append({'name': name, 'width': ow, 'height': oh})
    with open(os.path.join(HERE, 'cases.json'), 'w') as fh:
        json.dump({'opencv': cv2.__version__, 'source': {'width': W, 'height': H}, 'cases': cases}, fh, indent=1)
        fh.write('\n')


if __name__ == '__main__':
    main()
