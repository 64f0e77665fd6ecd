"""The official top-down pose test pipeline written out with numpy, OpenCV and torch, from the
facts in shared/DESIGN.md (box -> center/scale, the 3-point crop transform, cv2.warpAffine,
ToTensor + Normalize, flip test with flip pairs and the one-pixel shift, arg-max with the
quarter offset, the inverse transform). Used by the fixture scripts of this folder."""
import math

import cv2
import numpy as np
import torch

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def box2cs(x, y, w, h, aspect, padding=1.25):
    c = [x + w * 0.5, y + h * 0.5]
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    return c, [w / 200.0 * padding, h / 200.0 * padding]


def crop_transform(c, s, rot, size, inv=False):
    """cv2.getAffineTransform from float32 points: the center, the center plus the rotated
    (0, -src_w/2), and a third point perpendicular to those."""
    src_w = s[0] * 200.0
    dst_w, dst_h = size
    r = math.pi * rot / 180
    sd = [0 * math.cos(r) - (-src_w * 0.5) * math.sin(r), 0 * math.sin(r) + (-src_w * 0.5) * math.cos(r)]
    src = np.zeros((3, 2), np.float32); dst = np.zeros((3, 2), np.float32)
    src[0] = c; src[1] = [c[0] + sd[0], c[1] + sd[1]]
    dst[0] = [dst_w * 0.5, dst_h * 0.5]; dst[1] = [dst_w * 0.5, dst_h * 0.5 - dst_w * 0.5]
    for p in (src, dst):
        d = p[0] - p[1]
        p[2] = p[1] + np.array([-d[1], d[0]], np.float32)
    return cv2.getAffineTransform(dst, src) if inv else cv2.getAffineTransform(src, dst)


def crop(rgb, c, s, size):
    """The network input for one person: warp (bilinear, zero border), /255, mean/std, CHW."""
    patch = cv2.warpAffine(rgb, crop_transform(c, s, 0, size), (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR)
    return ((patch.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)


def flip_back(hm, pairs, shift=True):
    out = hm[:, :, :, ::-1].copy()
    for a, b in pairs:
        tmp = out[:, a].copy(); out[:, a] = out[:, b]; out[:, b] = tmp
    if shift:
        out[:, :, :, 1:] = out.copy()[:, :, :, 0:-1]
    return out


def decode(hm, centers, scales):
    """Arg-max, the quarter offset toward the higher neighbour, back to the image; and the maxima."""
    n, j, h, w = hm.shape
    flat = hm.reshape(n, j, -1)
    idx = flat.argmax(2); maxv = flat.max(2)
    coords = np.stack([idx % w, np.floor(idx / w)], -1).astype(np.float32)
    coords *= (maxv > 0)[..., None]
    for b in range(n):
        for k in range(j):
            m = hm[b, k]; px = int(math.floor(coords[b, k, 0] + 0.5)); py = int(math.floor(coords[b, k, 1] + 0.5))
            if 1 < px < w - 1 and 1 < py < h - 1:
                d = np.array([m[py][px + 1] - m[py][px - 1], m[py + 1][px] - m[py - 1][px]])
                coords[b, k] += np.sign(d) * .25
    out = np.zeros((n, j, 2))
    for b in range(n):
        t = crop_transform(centers[b], scales[b], 0, (w, h), inv=True)
        out[b] = coords[b] @ t[:, :2].T + t[:, 2]
    return out, maxv


def margins(hm):
    """How far each joint's decoding is from flipping: the gap between the best and second-best
    heatmap value, and the smallest neighbour difference the quarter offset takes the sign of."""
    n, j, h, w = hm.shape
    flat = np.sort(hm.reshape(n, j, -1), 2)
    gap = flat[:, :, -1] - flat[:, :, -2]
    small = np.full((n, j), np.inf)
    for b in range(n):
        for k in range(j):
            m = hm[b, k]; i = m.argmax(); py, px = divmod(i, w)
            if 1 < px < w - 1 and 1 < py < h - 1:
                small[b, k] = min(abs(m[py][px + 1] - m[py][px - 1]), abs(m[py + 1][px] - m[py - 1][px]))
    return gap.min(), small.min()


def estimate(model, rgb, boxes, size, pairs, flip):
    """Keypoints (N, J, 3: x, y, score) of `boxes` in `rgb` as the official test pipeline gives them."""
    cs = [box2cs(*b, size[0] / size[1]) for b in boxes]
    x = torch.from_numpy(np.stack([crop(rgb, c, s, size) for c, s in cs]))
    with torch.no_grad():
        hm = model(x).numpy()
        if flip:
            hf = model(torch.from_numpy(x.numpy()[:, :, :, ::-1].copy())).numpy()
            hm = (hm + flip_back(hf, pairs)) * 0.5
    xy, maxv = decode(hm, [c for c, _ in cs], [s for _, s in cs])
    return np.concatenate([xy, maxv[..., None]], 2), hm, cs
