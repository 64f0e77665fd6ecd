#!/usr/bin/env python3
"""Generates the classification fixtures under Tests/Fixtures/classify/ (run from the repository root):

    /tmp/py/bin/pip install torch numpy pyyaml safetensors timm
    /tmp/py/bin/python Tests/Fixtures/classify/make_classify_fixtures.py

The reference is timm's own HRNet (timm.models.hrnet.HighResolutionNet, timm 1.0.x), whose key
names and outputs equal the official HRNet-Image-Classification cls_hrnet.py (checked: identical
state-dict keys and shapes for all nine official configs, outputs bit-identical with the same
weights). Nothing here re-implements HRNet; timm builds and runs every model.

What it writes:
- tiny_cls.yaml, tiny_cls.safetensors, tiny_cls_zip.pth: a tiny cls_hrnet (10 classes) with random
  weights AND random BN statistics. timm fixes the head's widths (incre planes 32/64/128/256, 2048
  features: ~9M weights, 37 MB, whatever the stages), so the tiny model narrows them through two
  read-only properties on a timm subclass (TinyHead below); timm's own code builds and runs it.
  The Swift test builds the same head with ClassifierSpec(classes: 10, increPlanes: [2, 3, 4, 5],
  features: 24).
- tiny_cls_input.npy (2, 3, 64, 32) and its outputs: tiny_cls_logits.npy (2, 10) and
  tiny_cls_stream{0..3}.npy, the four stage-4 streams (timm's `stages()`), for the features API.
- w18_small_input.npy, w18_small_logits.npy: the full-size timm `hrnet_w18_small` (W18-small v1,
  13.2M weights) with weights drawn from keyed SplitMix64 streams (see keyed_tensor) that the
  Swift test regenerates, so the real model is checked end to end without committing 52 MB.
- keys/cls_<width>_keys.txt: state-dict keys and shapes (`key d0,d1,...`, num_batches_tracked left
  out) of timm's hrnet_w18_small, hrnet_w18_small_v2, hrnet_w18 ... hrnet_w64 (hrnet_w18_ssld and
  hrnet_w48_ssld are not written: the script asserts they are hrnet_w18/w48's without the four head
  conv biases, which the Swift test checks); param_counts.json: the parameter counts of all eleven
  (BN statistics excluded).

Seeded and deterministic (torch.set_num_threads(1)); re-running changes no bytes.
"""
import json
import os
import sys

import numpy as np
import torch
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
# The project's shared fixture helpers: seeded randomization, activation calibration, writers.
from make_fixtures import calibrate, randomize, save_npy, torch_save, write_safetensors  # noqa: E402

import timm  # noqa: E402
from timm.models.hrnet import HighResolutionNet  # noqa: E402

# The presets of Sources/HRNet/Configuration/Presets.swift and the timm models they mirror.
VARIANTS = {
    'cls_w18_small_v1': 'hrnet_w18_small', 'cls_w18_small_v2': 'hrnet_w18_small_v2',
    'cls_w18': 'hrnet_w18', 'cls_w30': 'hrnet_w30', 'cls_w32': 'hrnet_w32', 'cls_w40': 'hrnet_w40',
    'cls_w44': 'hrnet_w44', 'cls_w48': 'hrnet_w48', 'cls_w64': 'hrnet_w64',
    'cls_w18_ssld': 'hrnet_w18_ssld', 'cls_w48_ssld': 'hrnet_w48_ssld',
}

TINY_INCRE_PLANES = [2, 3, 4, 5]
TINY_FEATURES = 24
TINY_CLASSES = 10


class TinyHead(HighResolutionNet):
    """timm's HighResolutionNet with a narrow classification head. timm's __init__ and _make_head
    assign `num_features = 2048` and `head_channels = [32, 64, 128, 256]` and then read them back;
    these properties ignore the assignment and read back the tiny sizes, so timm itself builds
    incre/downsamp/final/classifier with them."""
    head_channels = property(lambda self: TINY_INCRE_PLANES, lambda self, value: None)
    num_features = property(lambda self: TINY_FEATURES, lambda self, value: None)


def stage(modules, blocks, channels, block='BASIC'):
    return dict(num_modules=modules, num_branches=len(channels), block_type=block,
                num_blocks=tuple([blocks] * len(channels)), num_channels=tuple(channels), fuse_method='SUM')


TINY_CFG = dict(
    stem_width=64,
    stage1=stage(1, 1, [8], 'BOTTLENECK'),
    stage2=stage(1, 1, [2, 4]),
    stage3=stage(2, 1, [2, 4, 6]),
    stage4=stage(2, 1, [2, 4, 6, 8]),
)


def official_yaml(cfg, classes):
    """The tiny config as an official HRNet-Image-Classification experiment file."""
    extra = {}
    for k in range(1, 5):
        s = cfg['stage%d' % k]
        extra['STAGE%d' % k] = {
            'NUM_MODULES': s['num_modules'], 'NUM_BRANCHES': s['num_branches'], 'BLOCK': s['block_type'],
            'NUM_BLOCKS': list(s['num_blocks']), 'NUM_CHANNELS': list(s['num_channels']), 'FUSE_METHOD': 'SUM'}
    return {'MODEL': {'NAME': 'cls_hrnet', 'NUM_CLASSES': classes, 'IMAGE_SIZE': [32, 64],
                      'EXTRA': dict(WITH_HEAD=True, **extra)},
            'DATASET': {'DATASET': 'imagenet', 'DATA_FORMAT': 'jpg', 'ROOT': 'data/imagenet/'}}


def randomize_classifier(model, seed):
    """`randomize` treats every non-conv `weight` as a BN scale (0.5..1.5); the classifier gets
    N(0, 1/fan_in) weights and N(0, 0.1) biases instead, so the logits are O(1) and not all alike."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        w = model.classifier.weight
        w.copy_(torch.randn(w.shape, generator=g) / w.shape[1] ** 0.5)
        model.classifier.bias.copy_(0.1 * torch.randn(model.classifier.bias.shape, generator=g))


def stage4_streams(model, x):
    """timm's stem and stages: the four streams leaving stage 4 (what `features` returns)."""
    with torch.no_grad():
        y = model.act1(model.bn1(model.conv1(x)))
        y = model.act2(model.bn2(model.conv2(y)))
        return model.stages(y)


def make_tiny():
    torch.manual_seed(0)
    model = TinyHead(TINY_CFG, num_classes=TINY_CLASSES)
    x = torch.randn(2, 3, 64, 32, generator=torch.Generator().manual_seed(1))
    model = randomize(model, seed=11)
    randomize_classifier(model, seed=12)
    model = calibrate(model, x).eval()
    with torch.no_grad():
        logits = model(x)
    sd = model.state_dict()
    with open(os.path.join(HERE, 'tiny_cls.yaml'), 'w') as f:
        yaml.safe_dump(official_yaml(TINY_CFG, TINY_CLASSES), f, sort_keys=False, default_flow_style=False)
    write_safetensors(os.path.join(HERE, 'tiny_cls.safetensors'), sd)
    torch_save(sd, os.path.join(HERE, 'tiny_cls_zip.pth'))
    save_npy(os.path.join(HERE, 'tiny_cls_input.npy'), x.numpy())
    save_npy(os.path.join(HERE, 'tiny_cls_logits.npy'), logits.numpy())
    for i, s in enumerate(stage4_streams(model, x)):
        save_npy(os.path.join(HERE, 'tiny_cls_stream%d.npy' % i), s.numpy())
    print('tiny_cls: %d parameters, logits std %.3f, max |logit| %.3f'
          % (sum(p.numel() for p in model.parameters()), logits.std(), logits.abs().max()))


# ---------------------------------------------------------------- keyed random weights
# The Swift test (Tests/HRNetTests/ClassificationTests.swift, keyedTensor) draws the same numbers:
# tensor `key` is the SplitMix64 stream seeded with FNV-1a-64(key); element i is
# u_i = (z_i >> 40) / 2^24 in [0, 1), z_i the i-th output. Values by key suffix:
#   conv / linear weight: (2 u - 1) * sqrt(3 / fan_in) * gain  (gain 1: unit variance in, ~1/2 out)
#   BN weight 0.5 + 0.5 u; BN bias, running_mean, conv / linear bias 0.2 (u - 0.5); running_var 0.5 + u.
MASK = (1 << 64) - 1


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & MASK
    return h


def splitmix_uniform(seed, n):
    """n uniforms in [0, 1) from SplitMix64 seeded with `seed`, as float32 (exact: 24-bit)."""
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over='ignore'):
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(40)).astype(np.float64) / float(1 << 24)).astype(np.float32)


def keyed_tensor(key, shape, is_bn):
    n = int(np.prod(shape))
    u = splitmix_uniform(fnv1a64(key), n).reshape(shape)
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return ((2 * u - 1) * np.float32((3.0 / fan_in) ** 0.5)).astype(np.float32)
    if key.endswith('running_var'):
        return (0.5 + u).astype(np.float32)
    if key.endswith('weight') and is_bn:
        return (0.5 + 0.5 * u).astype(np.float32)
    return (0.2 * (u - 0.5)).astype(np.float32)


def make_w18_small():
    model = timm.create_model('hrnet_w18_small').eval()
    bn_keys = {n for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    sd = model.state_dict()
    with torch.no_grad():
        for k, t in sd.items():
            if k.endswith('num_batches_tracked'):
                continue
            t.copy_(torch.from_numpy(keyed_tensor(k, tuple(t.shape), k.rsplit('.', 1)[0] in bn_keys)))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits = model(x)
    save_npy(os.path.join(HERE, 'w18_small_input.npy'), x.numpy())
    save_npy(os.path.join(HERE, 'w18_small_logits.npy'), logits.numpy())
    print('w18_small: logits std %.3f, max |logit| %.3f' % (logits.std(), logits.abs().max()))


def make_keys():
    os.makedirs(os.path.join(HERE, 'keys'), exist_ok=True)
    counts, keys = {}, {}
    for preset, name in VARIANTS.items():
        model = timm.create_model(name)
        counts[preset] = sum(p.numel() for p in model.parameters())
        keys[preset] = [(k, tuple(v.shape)) for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')]
        if preset.endswith('_ssld'):
            head_biases = ['downsamp_modules.%d.0.bias' % i for i in range(3)] + ['final_layer.0.bias']
            base = keys[preset[:-len('_ssld')]]
            assert keys[preset] == [kv for kv in base if kv[0] not in head_biases], preset
            continue
        with open(os.path.join(HERE, 'keys', preset + '_keys.txt'), 'w') as f:
            f.write(''.join('%s %s\n' % (k, ','.join(str(d) for d in shape)) for k, shape in keys[preset]))
    with open(os.path.join(HERE, 'param_counts.json'), 'w') as f:
        json.dump(counts, f, indent=1)
        f.write('\n')
    print('parameter counts:', counts)


def main():
    torch.set_num_threads(1)  # one summation order
    make_tiny()
    make_w18_small()
    make_keys()


if __name__ == '__main__':
    main()
