#!/usr/bin/env python3
"""Generates the golden test fixtures under Tests/Fixtures/ (run from the repository root):

    python3 -m venv /tmp/py && /tmp/py/bin/pip install torch numpy pyyaml safetensors
    /tmp/py/bin/python Tests/Fixtures/make_fixtures.py            # or: --out /some/dir

What it writes (see Tests/Fixtures/hrnet/README.md for the file list):
- hrnet/: tiny pose_hrnet and seg_hrnet (HRNetV2) models in the official YAML format, with random
  weights AND random BN statistics, saved as safetensors, zip .pth, legacy .pth (and, for pose, an
  official-style training checkpoint with `module.` keys), with inputs and eval-mode outputs as .npy;
  hrnet/broken/: configs and checkpoints the loader must refuse with a clear message.
- checkpoint/: small state dicts that exercise the .pth reader (views, shared storages, fp16,
  int64), truncated, garbage and hostile files.

The network below is an independent, minimal PyTorch implementation of HRNet written from the
paper and the facts in shared/DESIGN.md, with the official state-dict key names. It was checked
against the official code (deep-high-resolution-net.pytorch pose_hrnet.py and
HRNet-Semantic-Segmentation seg_hrnet.py, branches HRNet-OCR, pytorch-v1.1 and master): identical
key sets and shapes, bit-identical outputs for these fixtures and for the official W32/W48 configs.
No code of theirs is here. Python is needed only to regenerate; the Swift tests read the files.

Everything is seeded. Re-running in place changes no bytes: the legacy .pth format names storages
by memory address, so a legacy file that already loads to the same object is kept (see torch_save).

Sizes: every weight file carries the fixed 64-channel stem (~155 KB), and the pose model is stored
seven times (safetensors, zip, legacy, wrapped, three broken variants), so the stage widths are
kept small (pose 2/4/8/16, seg 4/6/10/14; layer1 gives 32) to hold the hrnet/ folder near 3 MB.
"""
import argparse
import copy
import io
import os
import pickle
import shutil
import struct
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml
from safetensors.torch import save_file as save_safetensors_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = HERE  # replaced by --out


# ================================================================ the network
# BN: eps 1e-5, momentum 0.1 (PyTorch defaults; the official pose code and the HRNet-OCR branch use
# 0.1, pytorch-v1.1 segmentation 0.01 -- it only matters in training). Convs have no bias except heads.

def batch_norm(c):
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


def conv_bn(cin, cout, stride, relu):
    """conv3x3 + BN (+ ReLU): keys `.0` conv, `.1` BN (`.2` ReLU has none)."""
    return nn.Sequential(conv3x3(cin, cout, stride), batch_norm(cout), *([nn.ReLU()] if relu else []))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(cin, planes), batch_norm(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes), batch_norm(planes)
        self.downsample = None if cin == planes else nn.Sequential(
            nn.Conv2d(cin, planes, 1, bias=False), batch_norm(planes))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + shortcut)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes):
        super().__init__()
        out = planes * self.expansion
        self.conv1, self.bn1 = nn.Conv2d(cin, planes, 1, bias=False), batch_norm(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes), batch_norm(planes)
        self.conv3, self.bn3 = nn.Conv2d(planes, out, 1, bias=False), batch_norm(out)
        self.downsample = None if cin == out else nn.Sequential(
            nn.Conv2d(cin, out, 1, bias=False), batch_norm(out))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        return F.relu(self.bn3(self.conv3(y)) + shortcut)


BLOCKS = {'BASIC': BasicBlock, 'BOTTLENECK': Bottleneck}


def residual_blocks(block, cin, planes, count):
    """`count` blocks; only the first changes the width (and so has the `downsample` shortcut)."""
    out = planes * block.expansion
    return nn.Sequential(*[block(cin if n == 0 else out, planes) for n in range(count)])


class Upsample:
    """How a lower-resolution stream is brought to a higher one: pose_hrnet uses nearest by the
    integer factor 2^(j-i); seg_hrnet uses bilinear to the target stream's exact size."""

    def __init__(self, mode, align_corners=None):
        self.mode, self.align_corners = mode, align_corners

    def __call__(self, x, target, factor):
        if self.mode == 'nearest':
            return F.interpolate(x, scale_factor=factor, mode='nearest')
        return F.interpolate(x, size=target.shape[-2:], mode='bilinear', align_corners=self.align_corners)


class ExchangeUnit(nn.Module):
    """One "HighResolutionModule": parallel branches, then fusion y_i = relu(sum_j f_ij(x_j)) where
    f_ii = identity, f_ij (j > i) = conv1x1 + BN then upsample, f_ij (j < i) = (i - j) strided
    conv3x3 + BN, ReLU between them. With `all_outputs` False only y_0 is made (last pose unit)."""

    def __init__(self, block, num_blocks, widths_in, planes, all_outputs, upsample):
        super().__init__()
        n = len(planes)
        self.branches = nn.ModuleList(
            [residual_blocks(block, widths_in[b], planes[b], num_blocks[b]) for b in range(n)])
        widths = [p * block.expansion for p in planes]
        self.widths, self.upsample = widths, upsample
        self.fuse_layers = None
        if n > 1:
            self.fuse_layers = nn.ModuleList()
            for i in range(n if all_outputs else 1):
                row = nn.ModuleList()
                for j in range(n):
                    if j > i:
                        row.append(nn.Sequential(nn.Conv2d(widths[j], widths[i], 1, bias=False), batch_norm(widths[i])))
                    elif j == i:
                        row.append(None)
                    else:
                        steps = i - j
                        row.append(nn.Sequential(*[
                            conv_bn(widths[j], widths[i] if s == steps - 1 else widths[j], 2, relu=s < steps - 1)
                            for s in range(steps)]))
                self.fuse_layers.append(row)

    def forward(self, xs):
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        outs = []
        for i, row in enumerate(self.fuse_layers):
            total = None
            for j, x in enumerate(xs):
                if j == i:
                    t = x
                elif j > i:
                    t = self.upsample(row[j](x), xs[i], 2 ** (j - i))
                else:
                    t = row[j](x)
                total = t if total is None else total + t
            outs.append(F.relu(total))
        return outs


class StageConfigError(ValueError):
    pass


def stage_spec(extra, k):
    """MODEL.EXTRA.STAGEk, checked like the official _check_branches."""
    name = 'STAGE%d' % k
    if name not in extra:
        raise StageConfigError('MODEL.EXTRA.%s is missing' % name)
    s = extra[name]
    n = s.get('NUM_BRANCHES', s.get('NUM_RANCHES', 1))  # the official seg files spell STAGE1's key NUM_RANCHES
    for key in ('NUM_BLOCKS', 'NUM_CHANNELS'):
        if len(s[key]) != n:
            raise StageConfigError('%s.%s has %d entries but NUM_BRANCHES is %d' % (name, key, len(s[key]), n))
    if s['BLOCK'] not in BLOCKS:
        raise StageConfigError('%s.BLOCK %r is not BASIC or BOTTLENECK' % (name, s['BLOCK']))
    return s


class HRNet(nn.Module):
    """pose_hrnet (heatmaps from stream 0) or seg_hrnet / HRNetV2 (all streams concatenated), from a
    config dict in the official YAML layout."""

    def __init__(self, cfg):
        super().__init__()
        model = cfg['MODEL']
        extra = model['EXTRA']
        self.task = {'pose_hrnet': 'pose', 'seg_hrnet': 'seg'}[model['NAME']]
        self.align_corners = model.get('ALIGN_CORNERS', True)  # HRNet-OCR config default
        upsample = Upsample('nearest') if self.task == 'pose' else Upsample('bilinear', self.align_corners)

        self.conv1, self.bn1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False), batch_norm(64)
        self.conv2, self.bn2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False), batch_norm(64)
        # layer1 = STAGE1 when given; otherwise what the official pose code hard-codes.
        s1 = stage_spec(extra, 1) if 'STAGE1' in extra else {'BLOCK': 'BOTTLENECK', 'NUM_BLOCKS': [4], 'NUM_CHANNELS': [64]}
        b1 = BLOCKS[s1['BLOCK']]
        self.layer1 = residual_blocks(b1, 64, s1['NUM_CHANNELS'][0], s1['NUM_BLOCKS'][0])
        widths = [s1['NUM_CHANNELS'][0] * b1.expansion]

        for k in (2, 3, 4):
            s = stage_spec(extra, k)
            block = BLOCKS[s['BLOCK']]
            target = [c * block.expansion for c in s['NUM_CHANNELS']]
            setattr(self, 'transition%d' % (k - 1), self.transition(widths, target))
            units = []
            for m in range(s['NUM_MODULES']):
                last_pose_unit = self.task == 'pose' and k == 4 and m == s['NUM_MODULES'] - 1
                units.append(ExchangeUnit(block, s['NUM_BLOCKS'], target, s['NUM_CHANNELS'],
                                          not last_pose_unit, upsample))
            setattr(self, 'stage%d' % k, nn.Sequential(*units))
            widths = target

        kernel = extra['FINAL_CONV_KERNEL']
        pad = 1 if kernel == 3 else 0
        if self.task == 'pose':
            self.final_layer = nn.Conv2d(widths[0], model['NUM_JOINTS'], kernel, 1, pad)
        else:
            c = sum(widths)
            self.last_layer = nn.Sequential(nn.Conv2d(c, c, 1), batch_norm(c), nn.ReLU(),
                                            nn.Conv2d(c, cfg['DATASET']['NUM_CLASSES'], kernel, 1, pad))

    @staticmethod
    def transition(widths, target):
        """Existing streams: identity (None, no keys) when the width is kept, else conv3x3 + BN + ReLU.
        A new stream: strided conv3x3 + BN + ReLU steps from the lowest-resolution stream."""
        layers = nn.ModuleList()
        for i, c in enumerate(target):
            if i < len(widths):
                layers.append(None if widths[i] == c else conv_bn(widths[i], c, 1, relu=True))
            else:
                steps = i + 1 - len(widths)
                layers.append(nn.Sequential(*[
                    conv_bn(widths[-1], c if s == steps - 1 else widths[-1], 2, relu=True) for s in range(steps)]))
        return layers

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        for k in (2, 3, 4):
            transition = getattr(self, 'transition%d' % (k - 1))
            # An existing stream i takes x_i; a new stream takes the lowest-resolution one.
            xs = [(lambda src: src if t is None else t(src))(xs[i] if i < len(xs) else xs[-1])
                  for i, t in enumerate(transition)]
            xs = getattr(self, 'stage%d' % k)(xs)
        if self.task == 'pose':
            return self.final_layer(xs[0])
        size = xs[0].shape[-2:]
        up = [xs[0]] + [F.interpolate(x, size=size, mode='bilinear', align_corners=self.align_corners) for x in xs[1:]]
        return self.last_layer(torch.cat(up, 1))  # logits at 1/4 of the input


def randomize(model, seed):
    """Kaiming-normal convs (std sqrt(2 / fan_in)), BN weight U(0.5, 1.5), bias N(0, 0.1),
    running_mean N(0, 0.1), running_var U(0.5, 1.5), num_batches_tracked a random int64,
    head biases N(0, 0.1). In state-dict order, from one seeded generator."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if name.endswith('num_batches_tracked'):
                t.fill_(int(torch.randint(1, 100000, (), generator=g)))
            elif t.dim() == 4:
                fan_in = t.shape[1] * t.shape[2] * t.shape[3]
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif name.endswith('running_var') or name.endswith('weight'):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            else:  # BN bias, running_mean, conv bias
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
    return model.eval()


def calibrate(model, x):
    """Scales each conv (weight and bias) so its output on `x` has standard deviation 1, in one
    forward pass in execution order (each conv runs once). Eval-mode BN with random statistics does
    not normalize, so without this the residual and fusion sums grow the activations ~100x by
    stage 4; after it every tensor is O(1) and so is the output (std exactly 1 on `x`)."""
    def rescale(conv, inputs, output):
        s = output.std()
        conv.weight /= s
        if conv.bias is not None:
            conv.bias /= s
        return output / s
    hooks = [m.register_forward_hook(rescale) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return model


# ================================================================ configs in the official layout
def stage(modules, num_blocks, channels, block='BASIC', branches_key='NUM_BRANCHES'):
    return {'NUM_MODULES': modules, branches_key: len(channels), 'BLOCK': block,
            'NUM_BLOCKS': list(num_blocks), 'NUM_CHANNELS': list(channels), 'FUSE_METHOD': 'SUM'}


# [w, h]. pose_hrnet needs multiples of 32: its nearest x2^k upsampling must meet the strided sizes
# (w 48 gives streams 12, 6, 3, 2 and 2 x 8 != 12; the official code fails the same way).
POSE_IMAGE_SIZE = [64, 96]


def tiny_pose_config():
    """Shaped like experiments/coco/hrnet/w32_256x192_adam_lr1e-3.yaml (loads with its yacs defaults)."""
    w, h = POSE_IMAGE_SIZE
    return {
        'AUTO_RESUME': True,
        'CUDNN': {'BENCHMARK': True, 'DETERMINISTIC': False, 'ENABLED': True},
        'DATA_DIR': '', 'GPUS': '(0,1,2,3)', 'OUTPUT_DIR': 'output', 'LOG_DIR': 'log', 'WORKERS': 24, 'PRINT_FREQ': 100,
        'DATASET': {'COLOR_RGB': True, 'DATASET': 'coco', 'DATA_FORMAT': 'jpg', 'FLIP': True,
                    'NUM_JOINTS_HALF_BODY': 8, 'PROB_HALF_BODY': 0.3, 'ROOT': 'data/coco/', 'ROT_FACTOR': 45,
                    'SCALE_FACTOR': 0.35, 'TEST_SET': 'val2017', 'TRAIN_SET': 'train2017'},
        'MODEL': {
            'INIT_WEIGHTS': True, 'NAME': 'pose_hrnet', 'NUM_JOINTS': 5, 'PRETRAINED': '', 'TARGET_TYPE': 'gaussian',
            'IMAGE_SIZE': [w, h], 'HEATMAP_SIZE': [w // 4, h // 4], 'SIGMA': 2,
            'EXTRA': {
                'PRETRAINED_LAYERS': ['conv1', 'bn1', 'conv2', 'bn2', 'layer1', 'transition1', 'stage2',
                                      'transition2', 'stage3', 'transition3', 'stage4'],
                'FINAL_CONV_KERNEL': 1,
                'STAGE1': stage(1, [1], [8], 'BOTTLENECK'),
                'STAGE2': stage(1, [1, 1], [2, 4]),
                'STAGE3': stage(2, [1, 1, 1], [2, 4, 8]),
                'STAGE4': stage(2, [1, 1, 1, 1], [2, 4, 8, 16]),
            },
        },
        'LOSS': {'USE_TARGET_WEIGHT': True},
        'TRAIN': {'BATCH_SIZE_PER_GPU': 32, 'SHUFFLE': True, 'BEGIN_EPOCH': 0, 'END_EPOCH': 210, 'OPTIMIZER': 'adam',
                  'LR': 0.001, 'LR_FACTOR': 0.1, 'LR_STEP': [170, 200], 'WD': 0.0001, 'GAMMA1': 0.99, 'GAMMA2': 0.0,
                  'MOMENTUM': 0.9, 'NESTEROV': False},
        'TEST': {'BATCH_SIZE_PER_GPU': 32, 'COCO_BBOX_FILE': '', 'BBOX_THRE': 1.0, 'IMAGE_THRE': 0.0,
                 'IN_VIS_THRE': 0.2, 'MODEL_FILE': '', 'NMS_THRE': 1.0, 'OKS_THRE': 0.9, 'USE_GT_BBOX': True,
                 'FLIP_TEST': True, 'POST_PROCESS': True, 'SHIFT_HEATMAP': True},
        'DEBUG': {'DEBUG': False, 'SAVE_BATCH_IMAGES_GT': False, 'SAVE_BATCH_IMAGES_PRED': False,
                  'SAVE_HEATMAPS_GT': False, 'SAVE_HEATMAPS_PRED': False},
    }


SEG_SIZE = (64, 96)       # (h, w) of the main segmentation input
SEG_ODD_SIZE = (50, 70)   # streams 13x18, 7x9, 4x5, 2x3: no stream is an exact multiple of the next


def tiny_seg_config(align_corners):
    """Shaped like the HRNet-OCR branch's experiments/cityscapes/seg_hrnet_w48_train_512x1024_*.yaml
    (including STAGE1's official NUM_RANCHES spelling; loads with its yacs defaults). Stage widths
    that are not powers of two (6, 10, 14; 34 concatenated) exercise the oneDNN padding paths."""
    h, w = SEG_SIZE
    return {
        'CUDNN': {'BENCHMARK': True, 'DETERMINISTIC': False, 'ENABLED': True},
        'GPUS': '(0,1,2,3)', 'OUTPUT_DIR': 'output', 'LOG_DIR': 'log', 'WORKERS': 4, 'PRINT_FREQ': 100,
        'DATASET': {'DATASET': 'cityscapes', 'ROOT': 'data/', 'TEST_SET': 'val.lst', 'TRAIN_SET': 'train.lst',
                    'NUM_CLASSES': 4},
        'MODEL': {
            'NAME': 'seg_hrnet', 'ALIGN_CORNERS': align_corners, 'PRETRAINED': '',
            'EXTRA': {
                'FINAL_CONV_KERNEL': 1,
                'STAGE1': stage(1, [1], [8], 'BOTTLENECK', branches_key='NUM_RANCHES'),
                'STAGE2': stage(1, [1, 1], [4, 6]),
                'STAGE3': stage(1, [1, 1, 1], [4, 6, 10]),
                'STAGE4': stage(1, [1, 1, 1, 1], [4, 6, 10, 14]),
            },
        },
        'LOSS': {'USE_OHEM': False, 'OHEMTHRES': 0.9, 'OHEMKEEP': 131072},
        'TRAIN': {'IMAGE_SIZE': [w, h], 'BASE_SIZE': w, 'BATCH_SIZE_PER_GPU': 3, 'SHUFFLE': True, 'BEGIN_EPOCH': 0,
                  'END_EPOCH': 484, 'RESUME': True, 'OPTIMIZER': 'sgd', 'LR': 0.01, 'WD': 0.0005, 'MOMENTUM': 0.9,
                  'NESTEROV': False, 'FLIP': True, 'MULTI_SCALE': True, 'DOWNSAMPLERATE': 1, 'IGNORE_LABEL': 255,
                  'SCALE_FACTOR': 16},
        'TEST': {'IMAGE_SIZE': [w, h], 'BASE_SIZE': w, 'BATCH_SIZE_PER_GPU': 4, 'FLIP_TEST': False,
                 'MULTI_SCALE': False},
    }


# ================================================================ writers
def out_dir(*parts):
    d = os.path.join(ROOT, *parts)
    os.makedirs(d, exist_ok=True)
    return d


def save_npy(path, a):
    np.save(path, np.ascontiguousarray(a, dtype='<f4'))


def save_yaml(path, cfg):
    with open(path, 'w') as f:
        yaml.safe_dump(cfg, f, sort_keys=False, default_flow_style=False)


def save_safetensors(path, tensors, metadata=None):
    """Written by hand (the format is simple); used for the checkpoint/ cases."""
    header, offset, blobs = {}, 0, []
    if metadata:
        header['__metadata__'] = metadata
    dtypes = {torch.float32: 'F32', torch.float16: 'F16', torch.int64: 'I64'}
    for k in sorted(tensors):
        t = tensors[k].contiguous()
        data = t.numpy().tobytes()
        header[k] = {'dtype': dtypes[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    import json
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def same_object(a, b):
    """Equal as loaded objects: container types, key order, tensor dtype/shape/stride/offset/values,
    and which tensors share a storage."""
    storages = {}

    def walk(x, y):
        if type(x) is not type(y):
            return False
        if isinstance(x, torch.Tensor):
            key = x.untyped_storage().data_ptr()
            if storages.setdefault(key, y.untyped_storage().data_ptr()) != y.untyped_storage().data_ptr():
                return False
            return (x.dtype == y.dtype and x.shape == y.shape and x.stride() == y.stride()
                    and x.storage_offset() == y.storage_offset()
                    and x.untyped_storage().nbytes() == y.untyped_storage().nbytes() and torch.equal(x, y))
        if isinstance(x, dict):
            return list(x) == list(y) and all(walk(x[k], y[k]) for k in x)
        if isinstance(x, (list, tuple)):
            return len(x) == len(y) and all(walk(u, v) for u, v in zip(x, y))
        return x == y

    return walk(a, b)


def torch_save(obj, path, legacy=False):
    """torch.save, zip format or (legacy=True) the pre-1.6 format. The legacy format names storages
    by their memory address, so its bytes change from run to run; an existing file that loads to
    the same object is therefore kept as it is, so re-running changes no committed bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = os.path.join(tmp, os.path.basename(path))  # the zip's folder is named after the file
        torch.save(obj, fresh, _use_new_zipfile_serialization=not legacy)
        if os.path.exists(path):
            try:
                if same_object(torch.load(path, weights_only=True), torch.load(fresh, weights_only=True)):
                    return
            except Exception:
                pass
        shutil.copyfile(fresh, path)


def write_safetensors(path, sd):
    """The safetensors package's own writer (an independent producer), keys in its order."""
    save_safetensors_file(OrderedDict((k, v.contiguous()) for k, v in sd.items()), path, metadata={'format': 'pt'})
    os.chmod(path, 0o644)  # it creates the file 0600


def make_model(name, cfg, seed, inputs, formats):
    """Builds, randomizes, calibrates (activations O(1)), and writes config, weights, inputs and
    outputs. `inputs` maps a file suffix to an NCHW float32 tensor."""
    out = out_dir('hrnet')
    save_yaml(os.path.join(out, name + '.yaml'), cfg)
    model = calibrate(randomize(HRNet(cfg), seed), inputs[''])
    sd = model.state_dict()
    write_safetensors(os.path.join(out, name + '.safetensors'), sd)
    if 'zip' in formats:
        torch_save(sd, os.path.join(out, name + '_zip.pth'))
    if 'legacy' in formats:
        torch_save(sd, os.path.join(out, name + '_legacy.pth'), legacy=True)
    for suffix, x in inputs.items():
        with torch.no_grad():
            y = model(x)
        save_npy(os.path.join(out, '%s_input%s.npy' % (name, suffix)), x.numpy())
        save_npy(os.path.join(out, '%s_output%s.npy' % (name, suffix)), y.numpy())
        print('%-24s %-18s -> %-18s output mean %+.3f std %.3f max|y| %.2f' % (
            name + suffix, tuple(x.shape), tuple(y.shape), y.mean().item(), y.std().item(), y.abs().max().item()))
    return model, sd


def make_broken(pose_cfg, pose_sd):
    """Inputs the loader must refuse, each with a message naming the problem."""
    out = out_dir('hrnet', 'broken')
    with open(os.path.join(out, 'bad_yaml.yaml'), 'w') as f:
        f.write('MODEL:\n  NAME: pose_hrnet\n  EXTRA: [unclosed\n    STAGE2: {\n')
    edits = (('missing_stage', lambda c: c['MODEL']['EXTRA'].pop('STAGE3')),
             ('bad_channels', lambda c: c['MODEL']['EXTRA']['STAGE3'].update(NUM_CHANNELS=[4, 8])),
             ('unknown_model', lambda c: c['MODEL'].update(NAME='pose_mobilenet')))
    for name, edit in edits:
        c = copy.deepcopy(pose_cfg)
        edit(c)
        save_yaml(os.path.join(out, name + '.yaml'), c)
        try:  # the reference implementation refuses them too
            HRNet(c)
            raise AssertionError(name + ' was accepted')
        except (StageConfigError, KeyError):
            pass

    def write(name, sd):
        write_safetensors(os.path.join(out, name + '.safetensors'), sd)

    missing = OrderedDict(pose_sd)
    del missing['stage3.1.branches.2.0.bn2.running_var']
    write('tiny_pose_missing_key', missing)
    bad = OrderedDict(pose_sd)
    key = 'stage2.0.fuse_layers.0.1.0.weight'  # conv1x1 C1 -> C0, stored [C0, C1, 1, 1]; written [C1, C0, 1, 1]
    bad[key] = bad[key].transpose(0, 1).contiguous()
    write('tiny_pose_bad_shape', bad)
    # A key a multi-scale unit has but the last pose unit (stream 0 only) has not.
    extra = OrderedDict(pose_sd)
    extra['stage4.1.fuse_layers.1.0.0.0.weight'] = pose_sd['stage4.0.fuse_layers.1.0.0.0.weight'].clone()
    write('tiny_pose_extra_key', extra)


def make_hrnet_fixtures():
    g = torch.Generator().manual_seed(2)
    pose_cfg = tiny_pose_config()
    w, h = POSE_IMAGE_SIZE
    _, pose_sd = make_model('tiny_pose', pose_cfg, 1, {'': torch.randn(2, 3, h, w, generator=g)},
                            ('zip', 'legacy'))
    # A training checkpoint as the official train.py writes it (DataParallel `module.` keys),
    # in the legacy format of the 2019 releases; only builtins besides the tensors.
    torch_save(OrderedDict([
        ('epoch', 1), ('model', 'pose_hrnet'),
        ('state_dict', OrderedDict(('module.' + k, v) for k, v in pose_sd.items())),
        ('perf', 0.5),
        ('optimizer', {'state': {}, 'param_groups': [{'lr': 0.001, 'betas': (0.9, 0.999), 'eps': 1e-08,
                                                      'weight_decay': 0.0001, 'amsgrad': False, 'params': [0, 1]}]}),
    ]), os.path.join(out_dir('hrnet'), 'tiny_pose_wrapped.pth'), legacy=True)

    # The ALIGN_CORNERS False model differs only in interpolation, so only safetensors (size).
    for name, ac, seed, formats in (('tiny_seg', True, 3, ('zip', 'legacy')), ('tiny_seg_ac_false', False, 4, ())):
        inputs = {'': torch.randn(2, 3, *SEG_SIZE, generator=g), '_odd': torch.randn(1, 3, *SEG_ODD_SIZE, generator=g)}
        make_model(name, tiny_seg_config(ac), seed, inputs, formats)

    make_broken(pose_cfg, pose_sd)


# ================================================================ loader cases (checkpoint/)
class Hostile:
    """Pickles as a call of os.system; the loader must refuse it, never run it."""

    def __reduce__(self):
        return (os.system, ('echo hostile',))


def make_checkpoint_cases():
    out = out_dir('checkpoint')
    g = torch.Generator().manual_seed(3)
    w = torch.randn(4, 3, 3, 3, generator=g)
    base = torch.randn(40, generator=g)
    sd = OrderedDict()
    sd['conv.weight'] = w
    sd['half'] = torch.randn(6, generator=g).half()
    sd['transposed'] = torch.randn(5, 3, generator=g).t()             # a non-contiguous view
    sd['shared_a'] = base[4:16].view(3, 4)                            # two views of one storage,
    sd['shared_b'] = base[20:30]                                      # one at an offset
    sd['bn.num_batches_tracked'] = torch.tensor(11)
    torch_save(sd, os.path.join(out, 'state_zip.pth'))
    torch_save(sd, os.path.join(out, 'state_legacy.pth'), legacy=True)
    for k, v in sd.items():
        if v.is_floating_point():
            save_npy(os.path.join(out, 'expected_%s.npy' % k.replace('.', '_')), v.float().numpy())
    save_safetensors(os.path.join(out, 'state.safetensors'),
                     {k: v.contiguous() for k, v in sd.items()}, metadata={'format': 'pt'})
    # Hostile pickles: a raw pickle, a zip .pth whose data.pkl calls os.system, and STACK_GLOBAL eval.
    hostile = pickle.dumps(OrderedDict(x=Hostile()), protocol=2)
    with open(os.path.join(out, 'hostile_legacy.pth'), 'wb') as f:
        f.write(pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2) + pickle.dumps(1001, protocol=2)
                + pickle.dumps({'protocol_version': 1001}, protocol=2) + hostile + pickle.dumps([], protocol=2))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
        for name, data in (('archive/data.pkl', pickle.dumps(OrderedDict(x=Hostile()), protocol=4)),
                           ('archive/version', b'3\n')):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)  # no clock in the bytes
    with open(os.path.join(out, 'hostile_zip.pth'), 'wb') as f:
        f.write(buf.getvalue())
    # protocol 4: STACK_GLOBAL builtins.eval
    evil = b'\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x0b1+1\x94\x85\x94R\x94.'
    with open(os.path.join(out, 'hostile_eval.pth'), 'wb') as f:
        f.write(evil)
    raw = open(os.path.join(out, 'state_zip.pth'), 'rb').read()
    open(os.path.join(out, 'truncated_zip.pth'), 'wb').write(raw[:len(raw) // 2])
    raw = open(os.path.join(out, 'state_legacy.pth'), 'rb').read()
    open(os.path.join(out, 'truncated_legacy.pth'), 'wb').write(raw[:len(raw) - 40])
    raw = open(os.path.join(out, 'state.safetensors'), 'rb').read()
    open(os.path.join(out, 'truncated.safetensors'), 'wb').write(raw[:len(raw) - 10])
    open(os.path.join(out, 'garbage.pth'), 'wb').write(np.random.RandomState(5).bytes(300))
    np.save(os.path.join(out, 'float64.npy'), np.zeros((2, 3)))
    np.save(os.path.join(out, 'int32.npy'), np.zeros((2, 3), dtype=np.int32))
    np.save(os.path.join(out, 'fortran.npy'), np.asfortranarray(np.zeros((2, 3), dtype=np.float32)))
    np.save(os.path.join(out, 'rank2.npy'), np.arange(6, dtype=np.float32).reshape(2, 3))


def main():
    global ROOT
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default=HERE, help='folder to write into (default: Tests/Fixtures)')
    p.add_argument('--only', choices=('hrnet', 'checkpoint'), help='write one group only')
    args = p.parse_args()
    ROOT = args.out
    torch.set_num_threads(1)  # the same summation order on every machine we can control
    if args.only != 'checkpoint':
        make_hrnet_fixtures()
    if args.only != 'hrnet':
        make_checkpoint_cases()


if __name__ == '__main__':
    main()
