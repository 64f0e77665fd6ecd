#!/usr/bin/env python3
"""Golden fixtures of HRNet-OCR (seg_hrnet_ocr) for the Swift tests (run from the repository root):

    /tmp/py/bin/python Tests/Fixtures/ocr/make_ocr_fixtures.py [--official PATH]

The network is this project's independent PyTorch HRNet (Tests/Fixtures/make_fixtures.py, the
HRNetV2 streams) with an OCR head written here from the OCR paper (Yuan et al., "Object-Contextual
Representations for Semantic Segmentation") and the facts in shared/DESIGN.md, with the official
module and key names of HRNet-Semantic-Segmentation (branch HRNet-OCR) lib/models/seg_hrnet_ocr.py.
No code of theirs is here. With --official PATH (a checkout of that repository), the script also
builds the official model from PATH/lib/models/seg_hrnet_ocr.py, loads the same weights, and
checks that both outputs agree (printed; it stops if they differ by more than 1e-5).

Writes (Tests/Fixtures/ocr/):
- tiny_ocr.yaml: a config shaped like experiments/cityscapes/seg_hrnet_ocr_w48_train_512x1024_*.yaml
  (NUM_OUTPUTS 2, MODEL.OCR, LOSS.BALANCE_WEIGHTS [0.4, 1]) with tiny widths (stages 4/6/10/14,
  OCR 12 mid and 6 key channels, 5 classes);
- tiny_ocr.safetensors, tiny_ocr_zip.pth, tiny_ocr_legacy.pth (random weights and BN statistics,
  calibrated so activations are O(1)), tiny_ocr_model_prefix.pth (keys under `model.` plus a
  `loss.criterion.weight`, as the official trainer's FullModel saves them);
- input.npy, aux.npy, main.npy: eval-mode outputs (1/4 of the input) for a 64x96 input, and
  input_odd.npy, aux_odd.npy, main_odd.npy for 50x70 (streams that do not divide evenly);
- train_*.{npy,json,safetensors}: two train-mode SGD steps (dropout off: the engine draws its own
  masks) with loss 0.4 CE(aux) + 1 CE(main), both upsampled to the labels: losses, every gradient
  of step 1, the weights after step 1;
- single.npy, multiscale_flip.npy: the official test (lib/datasets/base_dataset.py
  multi_scale_inference, TEST.OUTPUT_INDEX -1) on Tests/Fixtures/segmentation/photo.png, as
  make_segmentation_fixtures.py computes it for seg_hrnet.
Seeded; re-running changes no bytes (legacy .pth kept when it loads to the same tensors).
"""
import argparse
import importlib.util
import json
import os
import sys
import types

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.dirname(HERE)
sys.path.insert(0, FIXTURES)
sys.path.insert(0, os.path.join(FIXTURES, 'segmentation'))
import make_fixtures as mf  # noqa: E402
import make_segmentation_fixtures as msf  # noqa: E402

torch.set_num_threads(1)
CLASSES = 5
MID, KEY = 12, 6


def config():
    cfg = mf.tiny_seg_config(True)
    cfg['DATASET']['NUM_CLASSES'] = CLASSES
    cfg['MODEL']['NAME'] = 'seg_hrnet_ocr'
    cfg['MODEL']['NUM_OUTPUTS'] = 2
    cfg['MODEL']['OCR'] = {'MID_CHANNELS': MID, 'KEY_CHANNELS': KEY, 'DROPOUT': 0.05, 'SCALE': 1}
    cfg['LOSS'] = {'USE_OHEM': False, 'OHEMTHRES': 0.9, 'OHEMKEEP': 131072, 'BALANCE_WEIGHTS': [0.4, 1]}
    return cfg


def bn_relu(c):
    """The official ModuleHelper.BNReLU: Sequential(BN, ReLU), so the BN's keys end in `.1.0`."""
    return nn.Sequential(mf.batch_norm(c), nn.ReLU())


class OCRNet(nn.Module):
    """HRNetV2 streams, then the OCR head (keys as the official seg_hrnet_ocr)."""

    def __init__(self, cfg):
        super().__init__()
        backbone_cfg = json.loads(json.dumps(cfg))
        backbone_cfg['MODEL']['NAME'] = 'seg_hrnet'
        self.net = mf.HRNet(backbone_cfg)
        del self.net.last_layer
        self.align_corners = cfg['MODEL']['ALIGN_CORNERS']
        widths = sum(c for c in cfg['MODEL']['EXTRA']['STAGE4']['NUM_CHANNELS'])
        k, mid, key = cfg['DATASET']['NUM_CLASSES'], cfg['MODEL']['OCR']['MID_CHANNELS'], cfg['MODEL']['OCR']['KEY_CHANNELS']
        self.key_channels = key
        self.conv3x3_ocr = nn.Sequential(nn.Conv2d(widths, mid, 3, 1, 1), mf.batch_norm(mid), nn.ReLU())
        self.ocr_distri_head = nn.Module()
        block = nn.Module()
        block.f_pixel = nn.Sequential(nn.Conv2d(mid, key, 1, bias=False), bn_relu(key), nn.Conv2d(key, key, 1, bias=False), bn_relu(key))
        block.f_object = nn.Sequential(nn.Conv2d(mid, key, 1, bias=False), bn_relu(key), nn.Conv2d(key, key, 1, bias=False), bn_relu(key))
        block.f_down = nn.Sequential(nn.Conv2d(mid, key, 1, bias=False), bn_relu(key))
        block.f_up = nn.Sequential(nn.Conv2d(key, mid, 1, bias=False), bn_relu(mid))
        self.ocr_distri_head.object_context_block = block
        self.ocr_distri_head.conv_bn_dropout = nn.Sequential(nn.Conv2d(2 * mid, mid, 1, bias=False), bn_relu(mid), nn.Dropout2d(0.05))
        self.cls_head = nn.Conv2d(mid, k, 1)
        self.aux_head = nn.Sequential(nn.Conv2d(widths, widths, 1), mf.batch_norm(widths), nn.ReLU(), nn.Conv2d(widths, k, 1))

    def streams(self, x):
        n = self.net
        x = F.relu(n.bn1(n.conv1(x)))
        x = F.relu(n.bn2(n.conv2(x)))
        xs = [n.layer1(x)]
        for s in (2, 3, 4):
            transition = getattr(n, 'transition%d' % (s - 1))
            xs = [(lambda src: src if t is None else t(src))(xs[i] if i < len(xs) else xs[-1]) for i, t in enumerate(transition)]
            xs = getattr(n, 'stage%d' % s)(xs)
        size = xs[0].shape[-2:]
        return torch.cat([xs[0]] + [F.interpolate(x, size=size, mode='bilinear', align_corners=self.align_corners) for x in xs[1:]], 1)

    def forward(self, x):
        feats = self.streams(x)
        regions = self.aux_head(feats)                       # soft object regions, (N, K, H, W)
        pixels = self.conv3x3_ocr(feats)                     # pixel representations, (N, C, H, W)
        n, c = pixels.shape[:2]
        # Each region's centre: its map soft-maxed over the pixels weights the pixel representations.
        weights = F.softmax(regions.flatten(2), dim=2)       # (N, K, HW)
        centres = torch.einsum('nkp,ncp->nck', weights, pixels.flatten(2)).unsqueeze(3)  # (N, C, K, 1)
        # Every pixel attends over the centres.
        b = self.ocr_distri_head.object_context_block
        q = b.f_pixel(pixels).flatten(2)                     # (N, Ck, HW)
        k = b.f_object(centres).flatten(2)                   # (N, Ck, K)
        v = b.f_down(centres).flatten(2)                     # (N, Ck, K)
        attention = F.softmax(torch.einsum('ncp,nck->npk', q, k) * self.key_channels ** -0.5, dim=2)
        context = torch.einsum('npk,nck->ncp', attention, v).reshape(n, self.key_channels, *pixels.shape[2:])
        context = b.f_up(context)
        out = self.ocr_distri_head.conv_bn_dropout(torch.cat([context, pixels], 1))
        return [regions, self.cls_head(out)]

    def state_dict(self, *args, **kwargs):
        """The official keys: the backbone's at the top level, not under `net.`."""
        sd = super().state_dict(*args, **kwargs)
        return type(sd)((k[4:] if k.startswith('net.') else k, v) for k, v in sd.items())

    def load_state_dict(self, sd, strict=True):
        own = set(super().state_dict().keys())
        return super().load_state_dict({('net.' + k if 'net.' + k in own else k): v for k, v in sd.items()}, strict)


def official_model(path, cfg):
    """The official seg_hrnet_ocr.py from a checkout, with a yacs-like config (attribute access)."""
    class Node(dict):
        def __getattr__(self, name):
            v = self[name]
            return Node(v) if isinstance(v, dict) else v
    np.int = int  # the official file calls np.int, gone from numpy >= 1.24
    package = types.ModuleType('ocr_official')
    package.__path__ = [os.path.join(path, 'lib', 'models')]
    sys.modules['ocr_official'] = package
    for name in ('bn_helper', 'seg_hrnet_ocr'):
        spec = importlib.util.spec_from_file_location('ocr_official.' + name, os.path.join(path, 'lib', 'models', name + '.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules['ocr_official.' + name] = module
        spec.loader.exec_module(module)
    c = json.loads(json.dumps(cfg))
    c['MODEL']['PRETRAINED'] = ''
    model = module.HighResolutionNet(Node(c))
    # SyncBatchNorm runs only with a process group; plain BatchNorm2d computes the same.
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.SyncBatchNorm):
                bn = nn.BatchNorm2d(child.num_features, child.eps, child.momentum)
                setattr(parent, name, bn)
    return model


def max_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b))


def save(name, a):
    mf.save_npy(os.path.join(HERE, name), a)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--official', help='a checkout of HRNet-Semantic-Segmentation (branch HRNet-OCR)')
    args = parser.parse_args()
    mf.ROOT = HERE
    cfg = config()
    mf.save_yaml(os.path.join(HERE, 'tiny_ocr.yaml'), cfg)
    h, w = mf.SEG_SIZE
    g = torch.Generator().manual_seed(21)
    x = torch.randn(2, 3, h, w, generator=g)
    x_odd = torch.randn(1, 3, *mf.SEG_ODD_SIZE, generator=g)
    model = mf.calibrate(mf.randomize(OCRNet(cfg), 23), x)
    # Copies: state_dict() shares the live tensors, and a train-mode check below updates running statistics.
    sd = type(model.state_dict())((k, v.clone()) for k, v in model.state_dict().items())
    mf.write_safetensors(os.path.join(HERE, 'tiny_ocr.safetensors'), sd)
    mf.torch_save(sd, os.path.join(HERE, 'tiny_ocr_zip.pth'))
    mf.torch_save(sd, os.path.join(HERE, 'tiny_ocr_legacy.pth'), legacy=True)
    wrapped = {'model.' + k: v for k, v in sd.items()}
    wrapped['loss.criterion.weight'] = torch.ones(CLASSES)
    mf.torch_save({'epoch': 3, 'best_mIoU': 0.5, 'state_dict': wrapped}, os.path.join(HERE, 'tiny_ocr_model_prefix.pth'))

    model.eval()
    with torch.no_grad():
        outputs = {'': model(x), '_odd': model(x_odd)}
    for suffix, inp in (('', x), ('_odd', x_odd)):
        aux, main_out = outputs[suffix]
        save('input%s.npy' % suffix, inp.numpy())
        save('aux%s.npy' % suffix, aux.numpy())
        save('main%s.npy' % suffix, main_out.numpy())
        print('input%-5s %-16s aux %s main %s, main std %.3f max %.2f' % (
            suffix, tuple(inp.shape), tuple(aux.shape), tuple(main_out.shape), main_out.std().item(), main_out.abs().max().item()))

    if args.official:
        official = official_model(args.official, cfg)
        official.load_state_dict(sd)
        official.eval()
        with torch.no_grad():
            for suffix, inp in (('', x), ('_odd', x_odd)):
                d = max_diff(official(inp), outputs[suffix])
                print('official seg_hrnet_ocr vs this model, input%s: max |diff| %.3g' % (suffix, d))
                assert d < 1e-5, 'the independent model differs from the official one'
        # Train mode too (dropout off in both): batch statistics, including over the (N, C, K, 1) centres.
        model.train(); official.train()
        for m in (model, official):
            for d in m.modules():
                if isinstance(d, nn.Dropout2d):
                    d.p = 0.0
        a, b = model(x), official(x)
        print('train mode: max |diff| %.3g' % max_diff(a, b))
        assert max_diff(a, b) < 1e-5

    make_training_golden(cfg, sd, x)
    make_segment_cases(cfg, sd)


def make_training_golden(cfg, sd, x):
    model = OCRNet(cfg)
    model.load_state_dict(sd)
    model.train()
    for d in model.modules():
        if isinstance(d, nn.Dropout2d):
            d.p = 0.0
    g = torch.Generator().manual_seed(5)
    n, _, h, w = x.shape
    labels = torch.randint(0, CLASSES, (n, h, w), generator=g)
    labels[torch.rand(n, h, w, generator=g) < 0.1] = 255
    weights = cfg['LOSS']['BALANCE_WEIGHTS']
    lr, momentum, wd = 0.01, 0.9, 5e-4
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
    ce = nn.CrossEntropyLoss(ignore_index=255)

    def loss_of():
        outs = model(x)
        return sum(wt * ce(F.interpolate(o, size=(h, w), mode='bilinear', align_corners=True), labels)
                   for wt, o in zip(weights, outs))

    losses = []
    opt.zero_grad()
    loss = loss_of()
    loss.backward()
    losses.append(loss.item())
    names = {id(p): k for k, p in OCRNet.state_dict(model, keep_vars=True).items()}
    grads = {names[id(p)]: p.grad.detach().clone() for p in model.parameters()}
    mf.write_safetensors(os.path.join(HERE, 'train_gradients.safetensors'), grads)
    opt.step()
    mf.write_safetensors(os.path.join(HERE, 'train_step1.safetensors'), model.state_dict())
    with torch.no_grad():
        losses.append(loss_of().item())
    save('train_labels.npy', labels.numpy().astype(np.float32))
    with open(os.path.join(HERE, 'train.json'), 'w') as f:
        json.dump({'balance_weights': weights, 'lr': lr, 'momentum': momentum, 'weight_decay': wd, 'losses': losses}, f, indent=1)
    print('training: losses %s' % losses)


class Selected(nn.Module):
    """TEST.OUTPUT_INDEX -1: the official inference reads the last output."""
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.last_layer = [None, None, None, model.cls_head]  # the class count, as msf reads it

    def forward(self, x):
        return self.model(x)[-1]


def make_segment_cases(cfg, sd):
    model = OCRNet(cfg)
    model.load_state_dict(sd)
    model = Selected(model.eval())
    bgr = cv2.imread(os.path.join(FIXTURES, 'segmentation', 'photo.png'), cv2.IMREAD_COLOR)
    image = msf.input_transform(bgr)
    cases = [('single', [1.0], False, (48, 80), 80), ('multiscale_flip', [0.75, 1.0, 1.25], True, (32, 48), 80)]
    for name, scales, flip, crop, base in cases:
        with torch.no_grad():
            out = msf.multi_scale_inference(model, image, True, scales, flip, crop, base, 'official')
        save(name + '.npy', out[0].numpy())
        print('%-16s %s' % (name, tuple(out.shape)))
    with open(os.path.join(HERE, 'cases.json'), 'w') as f:
        json.dump([{'name': n, 'scales': s, 'flip': fl, 'crop': list(c), 'base_size': b} for n, s, fl, c, b in cases], f, indent=1)


if __name__ == '__main__':
    main()
