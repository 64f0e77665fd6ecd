#!/usr/bin/env python3
"""Reference outputs of the official HRNet segmentation test for the Swift Segmentation tests
(run from the repository root, after Tests/Fixtures/make_fixtures.py has made hrnet/tiny_seg*):

    /tmp/py/bin/python Tests/Fixtures/segmentation/make_segmentation_fixtures.py

The network is the independent PyTorch HRNet of Tests/Fixtures/make_fixtures.py (imported, with
the official key names) loaded with hrnet/tiny_seg*.safetensors. The test procedure below is
written from the facts of HRNet-Semantic-Segmentation (HRNet-OCR branch; pytorch-v1.1 is the
same) lib/datasets/base_dataset.py `input_transform`, `multi_scale_aug`, `pad_image`,
`inference`, `multi_scale_inference`, lib/datasets/cityscapes.py `multi_scale_inference`, and
lib/utils/utils.py `get_confusion_matrix` with the metrics of lib/core/function.py `testval`.
No code of theirs is copied.

Writes:
- photo.png: a seeded 48x80 RGB test photo (shapes, gradients, noise).
- input.npy: the photo normalized as the official input_transform (RGB, CHW float32).
- logits.npy: one network run on the whole photo, logits upsampled to 48x80 (C, H, W).
- cases.json + <case>.npy: multi_scale_inference outputs (C, H, W) for scales / flip / crop /
  base size / window policy combinations that exercise every branch (whole image, padded small
  image, overlapping windows with border padding, Cityscapes' shifted windows).
- labels/: truth_k.png and pred_k.png label pairs (8-bit gray, 5 classes, 255 = ignore, one class
  never present) and metrics.json: the confusion matrix, IoU per class, mIoU, pixel accuracy
  and mean accuracy as the official code computes them.
Seeded; torch uses one thread. Re-running changes no bytes.
"""
import json
import os
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import yaml
from PIL import Image
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from make_fixtures import HRNet  # noqa: E402  (the project's independent reference network)

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
H, W = 48, 80


def load_model(name):
    with open(os.path.join(HERE, '..', 'hrnet', name + '.yaml')) as f:
        cfg = yaml.safe_load(f)
    model = HRNet(cfg)
    model.load_state_dict(load_file(os.path.join(HERE, '..', 'hrnet', name + '.safetensors')))
    return model.eval(), cfg['MODEL']['ALIGN_CORNERS']


def make_photo():
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:H, 0:W]
    img = np.stack([x * 3, y * 5, 255 - x * 2], -1).astype(np.int32)
    img[(x - 20) ** 2 + (y - 20) ** 2 < 120] = (230, 40, 40)
    img[28:44, 45:75] = (30, 200, 60)
    img[5:9, :] = (240, 240, 20)
    img = np.clip(img + rng.integers(-25, 26, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img, 'RGB').save(os.path.join(HERE, 'photo.png'))


def input_transform(bgr):
    """cv2 reads BGR; the official transform reverses to RGB, /255, -mean, /std (float32 array,
    float64 mean and std as numpy broadcasts them)."""
    image = bgr.astype(np.float32)[:, :, ::-1]
    image = image / 255.0
    image -= MEAN
    image /= STD
    return image


def run(model, chw, flip, align_corners):
    """One `inference`: logits upsampled to the input, flip-averaged, exp'd."""
    x = torch.from_numpy(np.ascontiguousarray(chw[None]))
    size = x.shape[-2:]
    with torch.no_grad():
        pred = F.interpolate(model(x), size=size, mode='bilinear', align_corners=align_corners)
        if flip:
            mirrored = F.interpolate(model(torch.flip(x, [3])), size=size, mode='bilinear', align_corners=align_corners)
            pred = (pred + torch.flip(mirrored, [3])) * 0.5
    return pred.exp()


def pad_to(image, h, w, value):
    """pad_image: bottom/right padding of an HWC float image up to (h, w) with `value`."""
    ph, pw = max(h - image.shape[0], 0), max(w - image.shape[1], 0)
    if ph == 0 and pw == 0:
        return image
    return cv2.copyMakeBorder(image, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=tuple(value))


def scaled(image, base, scale):
    """multi_scale_aug without crop: long side int(base * scale + 0.5), cv2 INTER_LINEAR."""
    long_size = int(base * scale + 0.5)
    h, w = image.shape[:2]
    if h > w:
        nh, nw = long_size, int(w * long_size / h + 0.5)
    else:
        nw, nh = long_size, int(h * long_size / w + 0.5)
    return cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)


def multi_scale_inference(model, image, align_corners, scales, flip, crop, base, policy):
    """image: normalized HWC float32. Returns the sum over scales (1, C, H, W)."""
    ch, cw = crop
    oh, ow = image.shape[:2]
    padvalue = -1.0 * np.array(MEAN) / np.array(STD)
    total = None
    for scale in scales:
        img = scaled(image, base, scale)
        h, w = img.shape[:2]
        if policy == 'official':
            sh, sw = int(ch * 2.0 / 3.0), int(cw * 2.0 / 3.0)
            if max(h, w) <= min(ch, cw):
                preds = run(model, pad_to(img, ch, cw, padvalue).transpose(2, 0, 1), flip, align_corners)[:, :, :h, :w]
            else:
                canvas = pad_to(img, ch, cw, padvalue)
                nh, nw = canvas.shape[:2]
                rows = int(np.ceil(1.0 * (nh - ch) / sh)) + 1
                cols = int(np.ceil(1.0 * (nw - cw) / sw)) + 1
                acc = torch.zeros(1, model.last_layer[3].out_channels, nh, nw)
                count = torch.zeros(1, 1, nh, nw)
                for r in range(rows):
                    for c in range(cols):
                        h0, w0 = r * sh, c * sw
                        h1, w1 = min(h0 + ch, nh), min(w0 + cw, nw)
                        window = canvas[h0:h1, w0:w1]
                        if h1 == nh or w1 == nw:
                            window = pad_to(window, ch, cw, padvalue)
                        out = run(model, window.transpose(2, 0, 1), flip, align_corners)
                        acc[:, :, h0:h1, w0:w1] += out[:, :, :h1 - h0, :w1 - w0]
                        count[:, :, h0:h1, w0:w1] += 1
                preds = (acc / count)[:, :, :h, :w]
        else:  # cityscapes
            if scale <= 1.0:
                preds = run(model, img.transpose(2, 0, 1), flip, align_corners)[:, :, :h, :w]
            else:
                rows = int(np.ceil(1.0 * (h - ch) / ch)) + 1
                cols = int(np.ceil(1.0 * (w - cw) / cw)) + 1
                acc = torch.zeros(1, model.last_layer[3].out_channels, h, w)
                count = torch.zeros(1, 1, h, w)
                for r in range(rows):
                    for c in range(cols):
                        h1, w1 = min(r * ch + ch, h), min(c * cw + cw, w)
                        h0, w0 = max(h1 - ch, 0), max(w1 - cw, 0)
                        out = run(model, img[h0:h1, w0:w1].transpose(2, 0, 1), flip, align_corners)
                        acc[:, :, h0:h1, w0:w1] += out[:, :, :h1 - h0, :w1 - w0]
                        count[:, :, h0:h1, w0:w1] += 1
                preds = (acc / count)[:, :, :h, :w]
        preds = F.interpolate(preds, (oh, ow), mode='bilinear', align_corners=align_corners)
        total = preds if total is None else total + preds
    return total


CASES = [
    # name, model, scales, flip, crop (h, w), base size, policy
    ('single', 'tiny_seg', [1.0], False, (48, 80), 80, 'official'),
    ('multiscale_flip', 'tiny_seg', [0.75, 1.0, 1.25], True, (32, 48), 80, 'official'),
    ('padded_small', 'tiny_seg', [0.5], False, (48, 48), 80, 'official'),
    ('cityscapes_windows', 'tiny_seg', [0.5, 1.0, 1.5], False, (32, 40), 80, 'cityscapes'),
    ('ac_false_windows_flip', 'tiny_seg_ac_false', [1.0], True, (32, 56), 80, 'official'),
    ('cityscapes_flip', 'tiny_seg', [0.75, 1.0, 1.25], True, (32, 40), 80, 'cityscapes'),
]


def confusion(truth, pred, n, ignore=255):
    """get_confusion_matrix: bincount of truth * n + pred over non-ignored pixels."""
    keep = truth != ignore
    index = (truth[keep].astype(np.int64) * n + pred[keep]).astype(np.int64)
    counts = np.bincount(index, minlength=n * n)
    return counts[:n * n].reshape(n, n).astype(np.float64)


def make_label_pairs():
    out = os.path.join(HERE, 'labels')
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(11)
    n = 5
    total = np.zeros((n, n))
    for k in range(3):
        h, w = 20 + 4 * k, 30
        truth = rng.choice([0, 1, 2, 4], size=(h, w), p=[0.4, 0.3, 0.2, 0.1]).astype(np.uint8)  # class 3 never true
        truth[rng.random((h, w)) < 0.1] = 255
        pred = truth.copy()
        flip = rng.random((h, w)) < 0.3
        pred[flip] = rng.integers(0, n, flip.sum())
        pred[pred == 255] = rng.integers(0, n, (pred == 255).sum())
        if k == 2:
            pred[:] = np.where(pred == 3, 0, pred)  # class 3 predicted only in the first two maps
        Image.fromarray(truth, 'L').save(os.path.join(out, 'truth_%d.png' % k))
        Image.fromarray(pred, 'L').save(os.path.join(out, 'pred_%d.png' % k))
        total += confusion(truth, pred, n)
    pos, res, tp = total.sum(1), total.sum(0), np.diag(total)
    iou = tp / np.maximum(1.0, pos + res - tp)
    metrics = {'classes': n, 'pairs': 3, 'confusion': total.astype(int).tolist(), 'iou': iou.tolist(),
               'mean_iou': iou.mean(), 'pixel_accuracy': tp.sum() / pos.sum(),
               'mean_accuracy': (tp / np.maximum(1.0, pos)).mean()}
    with open(os.path.join(out, 'metrics.json'), 'w') as f:
        json.dump(metrics, f, indent=1)
        f.write('\n')


def main():
    torch.set_num_threads(1)
    make_photo()
    bgr = cv2.imread(os.path.join(HERE, 'photo.png'), cv2.IMREAD_COLOR)
    image = input_transform(bgr)
    np.save(os.path.join(HERE, 'input.npy'), np.ascontiguousarray(image.transpose(2, 0, 1), dtype='<f4'))
    model, ac = load_model('tiny_seg')
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)[None]))
        logits = F.interpolate(model(x), size=(H, W), mode='bilinear', align_corners=ac)
    np.save(os.path.join(HERE, 'logits.npy'), logits[0].numpy().astype('<f4'))
    cases = []
    for name, model_name, scales, flip, crop, base, policy in CASES:
        model, ac = load_model(model_name)
        scores = multi_scale_inference(model, image, ac, scales, flip, crop, base, policy)[0].numpy()
        np.save(os.path.join(HERE, name + '.npy'), scores.astype('<f4'))
        cases.append({'name': name, 'model': model_name, 'scales': scales, 'flip': flip, 'crop': list(crop),
                      'base_size': base, 'policy': policy})
        print('%-24s scores %s, range %.3f..%.3f' % (name, scores.shape, scores.min(), scores.max()))
    with open(os.path.join(HERE, 'cases.json'), 'w') as f:
        json.dump(cases, f, indent=1)
        f.write('\n')
    make_label_pairs()


if __name__ == '__main__':
    main()
