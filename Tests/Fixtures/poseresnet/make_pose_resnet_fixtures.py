#!/usr/bin/env python3
"""Golden fixtures of SimpleBaseline (pose_resnet) for the Swift tests (run from the repository root):

    /tmp/py/bin/python Tests/Fixtures/poseresnet/make_pose_resnet_fixtures.py \
        [--official PATH/lib/models/pose_resnet.py [--official-loss PATH/lib/core/loss.py]]

The network is an independent PyTorch implementation of SimpleBaseline (Xiao et al., "Simple
Baselines for Human Pose Estimation and Tracking": a ResNet, then stride-2 transposed convolutions
+ BN + ReLU, then a conv to one heatmap per joint) written here, with the module and key names of
deep-high-resolution-net.pytorch lib/models/pose_resnet.py. The residual blocks are this file's
own (the HRNet ones of make_fixtures.py have no stride); the helpers (randomize, writers,
torch_save) are make_fixtures.py's. No code of theirs is here. With --official PATH (that file,
e.g. exported by `git show HEAD:lib/models/pose_resnet.py`), the script also builds the official
model with the official widths (64/128/256/512) for NUM_LAYERS 18 and 50, loads the same random
weights into both, checks that the outputs agree (printed; it stops above 1e-5), and writes
Tests/Fixtures/keys/pose_resnet_50_256x192_keys.txt from the official model. With
--official-loss (lib/core/loss.py) the training loss is checked against JointsMSELoss too.

Writes (Tests/Fixtures/poseresnet/, see README.md there):
- tiny_pose_resnet.yaml, tiny_pose_resnet50.yaml: configs shaped like
  experiments/coco/resnet/res50_256x192_d256x3_adam_lr1e-3.yaml with tiny widths, given by this
  project's MODEL.EXTRA.RESNET_PLANES (the official code fixes 64/128/256/512);
- <name>.safetensors, <name>_zip.pth, <name>_legacy.pth: random weights and BN statistics,
  calibrated so activations are O(1);
- input.npy, <name>_output.npy: a 2x3x96x64 batch and its eval-mode heatmaps (2x17x24x16);
  input_odd.npy, <name>_output_odd.npy: 1x3x50x38, whose heatmaps are 16x16 (not input/4: every
  stride-2 step rounds up, then the deconvolutions exactly double);
- train_*.{npy,json,safetensors}: two train-mode Adam steps of tiny_pose_resnet with the
  official JointsMSELoss (USE_TARGET_WEIGHT): losses, every gradient of step 1, the state after
  step 1;
- torchvision_style_backbone.safetensors: tiny_pose_resnet's backbone under torchvision ResNet key
  names, plus an `fc` head, as an ImageNet checkpoint that MODEL.PRETRAINED would name.
Seeded; re-running changes no bytes (legacy .pth kept when it loads to the same tensors).
"""
import argparse
import importlib.util
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.dirname(HERE)
sys.path.insert(0, FIXTURES)
import make_fixtures as mf  # noqa: E402

torch.set_num_threads(1)

IMAGE_SIZE = [64, 96]   # [w, h]; sides must be multiples of 32 for HEATMAP_SIZE = IMAGE_SIZE / 4
ODD_SIZE = (50, 38)     # (h, w): 25x19 -> 13x10 -> 7x5 -> 4x3 -> 2x2, then x8: 16x16 heatmaps
NUM_JOINTS = 17


# ================================================================ the network
# BN eps 1e-5, momentum 0.1 (the official BN_MOMENTUM). Convs have no bias except the deconvolutions
# (DECONV_WITH_BIAS) and final_layer.

def conv(cin, cout, k, stride=1):
    return nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)


class Basic(nn.Module):
    """Two 3x3 convs; the stride on the first. Keys conv1/bn1/conv2/bn2 (+ downsample.0/.1)."""
    expansion = 1

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1, self.bn1 = conv(cin, planes, 3, stride), mf.batch_norm(planes)
        self.conv2, self.bn2 = conv(planes, planes, 3), mf.batch_norm(planes)
        self.downsample = shortcut(cin, planes, stride)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Bottle(nn.Module):
    """1x1 reduce, 3x3 (the stride here, as torchvision >= 0.2 "ResNet v1.5"), 1x1 expand x4."""
    expansion = 4

    def __init__(self, cin, planes, stride):
        super().__init__()
        out = planes * 4
        self.conv1, self.bn1 = conv(cin, planes, 1), mf.batch_norm(planes)
        self.conv2, self.bn2 = conv(planes, planes, 3, stride), mf.batch_norm(planes)
        self.conv3, self.bn3 = conv(planes, out, 1), mf.batch_norm(out)
        self.downsample = shortcut(cin, out, stride)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


def shortcut(cin, cout, stride):
    """Identity (no keys) when the shape is kept, else strided conv1x1 + BN (`downsample.0/.1`)."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), mf.batch_norm(cout))


DEPTHS = {18: (Basic, [2, 2, 2, 2]), 34: (Basic, [3, 4, 6, 3]), 50: (Bottle, [3, 4, 6, 3]),
          101: (Bottle, [3, 4, 23, 3]), 152: (Bottle, [3, 8, 36, 3])}
# Transposed conv kernel -> (padding, output_padding): each makes exactly 2x the input size,
# out = 2 (n - 1) - 2 p + k + op = 2n.
DECONV_PADDING = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


class SimpleBaseline(nn.Module):
    """pose_resnet from a config dict in the official YAML layout (plus EXTRA.RESNET_PLANES)."""

    def __init__(self, cfg):
        super().__init__()
        extra = cfg['MODEL']['EXTRA']
        block, counts = DEPTHS[extra['NUM_LAYERS']]
        planes = extra.get('RESNET_PLANES', [64, 128, 256, 512])
        self.conv1, self.bn1 = nn.Conv2d(3, planes[0], 7, 2, 3, bias=False), mf.batch_norm(planes[0])
        width = planes[0]
        for i, (p, n) in enumerate(zip(planes, counts)):
            blocks = []
            for b in range(n):
                blocks.append(block(width, p, 2 if (b == 0 and i > 0) else 1))
                width = p * block.expansion
            setattr(self, 'layer%d' % (i + 1), nn.Sequential(*blocks))

        filters, kernels = extra['NUM_DECONV_FILTERS'], extra['NUM_DECONV_KERNELS']
        if not len(filters) == len(kernels) == extra['NUM_DECONV_LAYERS']:
            raise ValueError('NUM_DECONV_FILTERS and NUM_DECONV_KERNELS need NUM_DECONV_LAYERS entries')
        up = []
        for f, k in zip(filters, kernels):
            if k not in DECONV_PADDING:
                raise ValueError('NUM_DECONV_KERNELS entries must be 2, 3 or 4, not %r' % k)
            p, op = DECONV_PADDING[k]
            up += [nn.ConvTranspose2d(width, f, k, 2, p, op, bias=extra['DECONV_WITH_BIAS']),
                   mf.batch_norm(f), nn.ReLU()]
            width = f
        self.deconv_layers = nn.Sequential(*up)
        k = extra['FINAL_CONV_KERNEL']
        self.final_layer = nn.Conv2d(width, cfg['MODEL']['NUM_JOINTS'], k, 1, 1 if k == 3 else 0)

    def backbone(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for i in range(1, 5):
            x = getattr(self, 'layer%d' % i)(x)
        return x

    def forward(self, x):
        return self.final_layer(self.deconv_layers(self.backbone(x)))


def calibrate(model, x):
    """make_fixtures.calibrate for convs AND transposed convs (not a subclass of nn.Conv2d): each
    output gets standard deviation 1 on `x`, in one eval-mode pass."""
    def rescale(layer, inputs, output):
        s = output.std()
        layer.weight /= s
        if layer.bias is not None:
            layer.bias /= s
        return output / s
    hooks = [m.register_forward_hook(rescale) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return model


# ================================================================ configs
def config(num_layers, planes, bias, filters, kernels, final_kernel):
    """Shaped like experiments/coco/resnet/res50_256x192_d256x3_adam_lr1e-3.yaml (same sections and
    keys, COLOR_RGB false as in every official resnet file); only MODEL differs."""
    w, h = IMAGE_SIZE
    return {
        'AUTO_RESUME': True,
        'CUDNN': {'BENCHMARK': True, 'DETERMINISTIC': False, 'ENABLED': True},
        'DATA_DIR': '', 'GPUS': '(0,1,2,3)', 'OUTPUT_DIR': 'output', 'LOG_DIR': 'log', 'WORKERS': 24, 'PRINT_FREQ': 100,
        'DATASET': {'COLOR_RGB': False, 'DATASET': 'coco', 'ROOT': 'data/coco/', 'TEST_SET': 'val2017',
                    'TRAIN_SET': 'train2017', 'FLIP': True, 'ROT_FACTOR': 40, 'SCALE_FACTOR': 0.3},
        'MODEL': {
            'NAME': 'pose_resnet', 'PRETRAINED': '', 'IMAGE_SIZE': [w, h], 'HEATMAP_SIZE': [w // 4, h // 4],
            'SIGMA': 2, 'NUM_JOINTS': NUM_JOINTS, 'TARGET_TYPE': 'gaussian',
            'EXTRA': {'FINAL_CONV_KERNEL': final_kernel, 'DECONV_WITH_BIAS': bias,
                      'NUM_DECONV_LAYERS': len(filters), 'NUM_DECONV_FILTERS': list(filters),
                      'NUM_DECONV_KERNELS': list(kernels), 'NUM_LAYERS': num_layers,
                      'RESNET_PLANES': list(planes)},
        },
        'LOSS': {'USE_TARGET_WEIGHT': True},
        'TRAIN': {'BATCH_SIZE_PER_GPU': 32, 'SHUFFLE': True, 'BEGIN_EPOCH': 0, 'END_EPOCH': 140, 'OPTIMIZER': 'adam',
                  'LR': 0.001, 'LR_FACTOR': 0.1, 'LR_STEP': [90, 120], 'WD': 0.0001, 'GAMMA1': 0.99, 'GAMMA2': 0.0,
                  'MOMENTUM': 0.9, 'NESTEROV': False},
        'TEST': {'BATCH_SIZE_PER_GPU': 32,
                 'COCO_BBOX_FILE': 'data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json',
                 'BBOX_THRE': 1.0, 'IMAGE_THRE': 0.0, 'IN_VIS_THRE': 0.2, 'MODEL_FILE': '', 'NMS_THRE': 1.0,
                 'OKS_THRE': 0.9, 'FLIP_TEST': True, 'POST_PROCESS': True, 'SHIFT_HEATMAP': True, 'USE_GT_BBOX': True},
        'DEBUG': {'DEBUG': False, 'SAVE_BATCH_IMAGES_GT': False, 'SAVE_BATCH_IMAGES_PRED': False,
                  'SAVE_HEATMAPS_GT': False, 'SAVE_HEATMAPS_PRED': False},
    }


MODELS = OrderedDict([
    # BasicBlock; deconv kernels 4, 3, 2 cover every (padding, output_padding) case; biased deconvs; 3x3 head.
    ('tiny_pose_resnet', (config(18, [8, 16, 24, 32], True, [16, 12, 16], [4, 3, 2], 3), 31)),
    # Bottleneck [3, 4, 6, 3] (layer1 needs a stride-1 downsample: 4 -> 16 channels); plain deconvs; 1x1 head.
    ('tiny_pose_resnet50', (config(50, [4, 8, 8, 8], False, [8, 8, 8], [4, 4, 4], 1), 32)),
])

PLANES_COMMENT = ('      # This project\'s extension: stem/layer1, layer2, layer3, layer4 planes. The official\n'
                  '      # pose_resnet.py ignores it and fixes 64, 128, 256, 512.\n')


def save_yaml(path, cfg):
    text = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)
    text = text.replace('    RESNET_PLANES:\n', PLANES_COMMENT.replace('      ', '    ') + '    RESNET_PLANES:\n')
    with open(path, 'w') as f:
        f.write(text)


# ================================================================ the official code (--official)
class Node(dict):
    """yacs-like attribute access over a plain dict."""
    def __getattr__(self, name):
        v = self[name]
        return Node(v) if isinstance(v, dict) else v


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def official_widths(cfg):
    c = json.loads(json.dumps(cfg))
    del c['MODEL']['EXTRA']['RESNET_PLANES']
    return c


def check_official(path, x, x_odd):
    official = load_module(path, 'pose_resnet_official')
    # 64x48 (IMAGE_SIZE [48, 64]): 32x24 -> 16x12 -> 8x6 -> 4x3 -> 2x2, so 16x16 heatmaps, not 16x12.
    x48 = torch.randn(1, 3, 64, 48, generator=torch.Generator().manual_seed(40))
    res50 = official_widths(MODELS['tiny_pose_resnet50'][0])
    res50['MODEL']['EXTRA'].update(NUM_DECONV_FILTERS=[256, 256, 256])  # = the official res50 yaml's EXTRA
    cases = (('18, deconv [16,12,16] k [4,3,2] bias, 3x3 head', official_widths(MODELS['tiny_pose_resnet'][0]), 41),
             ('50, res50_256x192 EXTRA (256x3, k4, no bias, 1x1 head)', res50, 42))
    for label, cfg, seed in cases:
        ours = calibrate(mf.randomize(SimpleBaseline(cfg), seed), x[:1])
        theirs = official.get_pose_net(Node(cfg), is_train=False)
        sd = OrderedDict((k, v.clone()) for k, v in ours.state_dict().items())
        theirs.load_state_dict(sd)  # strict: the same keys and shapes
        assert list(theirs.state_dict()) == list(sd), 'key order differs'
        theirs.eval()
        with torch.no_grad():
            for name, inp in (('1x3x64x48', x48), ('1x3x%dx%d' % tuple(x.shape[2:]), x[:1]),
                              ('odd 1x3x%dx%d' % ODD_SIZE, x_odd)):
                a, b = ours(inp), theirs(inp)
                d = (a - b).abs().max().item()
                print('official pose_resnet %s, eval %s -> %s: max |diff| %.3g (output std %.3f)'
                      % (label, name, tuple(b.shape), d, b.std().item()))
                assert a.shape == b.shape and d <= 1e-5, 'the independent model differs from the official one'
        # Train mode: batch statistics, and the gradients of one loss.
        ours.train(); theirs.train()
        a, b = ours(x), theirs(x)
        a.square().mean().backward(); b.square().mean().backward()
        named = dict(theirs.named_parameters())
        dg = max((p.grad - named[k].grad).abs().max().item() / (named[k].grad.abs().max().item() + 1e-12)
                 for k, p in ours.named_parameters())
        print('  train mode 2x3x%dx%d: max |diff| %.3g, gradients max relative diff %.3g'
              % (x.shape[2], x.shape[3], (a - b).abs().max().item(), dg))
        assert (a - b).abs().max().item() <= 1e-5 and dg <= 1e-4
        for k, v in theirs.state_dict().items():
            assert torch.allclose(v.float(), ours.state_dict()[k].float(), atol=1e-6), k  # running stats too
    write_official_keys(official, res50)


def write_official_keys(official, cfg):
    """Keys and shapes of the official res50 256x192 model (the experiment file's EXTRA, widths 64..512)."""
    cfg = json.loads(json.dumps(cfg))
    cfg['MODEL']['EXTRA']['NUM_DECONV_FILTERS'] = [256, 256, 256]
    model = official.get_pose_net(Node(cfg), is_train=False)
    lines = ['%s %s' % (k, ','.join(str(d) for d in v.shape))
             for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')]
    with open(os.path.join(FIXTURES, 'keys', 'pose_resnet_50_256x192_keys.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('official res50 256x192: %d keys, %s parameters'
          % (len(lines), format(sum(p.numel() for p in model.parameters()), ',')))


# ================================================================ training golden
def joints_mse_loss(output, target, weight):
    """JointsMSELoss(use_target_weight=True): for each joint j, 0.5 * mean over batch and pixels of
    (w_bj (pred - gt))^2, then averaged over joints. Every joint has the same pixel count, so this
    is 0.5 * the mean over everything."""
    return 0.5 * ((output - target) * weight[:, :, :, None]).square().mean()


def gaussian_targets(g, n, h, w, sigma=2.0):
    """Unnormalized Gaussians (peak 1) cut at 3 sigma as the official generate_target draws them,
    at random integer centres. Weights are 1, 1.5 (the COCO joints_weight values of hips/ankles),
    or 0 -- and the weight-0 joints keep their Gaussian on purpose, so that the weight must scale
    the target as well as the prediction."""
    target = torch.zeros(n, NUM_JOINTS, h, w)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing='ij')
    cy = torch.randint(0, h, (n, NUM_JOINTS), generator=g)
    cx = torch.randint(0, w, (n, NUM_JOINTS), generator=g)
    for b in range(n):
        for j in range(NUM_JOINTS):
            dy, dx = ys - cy[b, j], xs - cx[b, j]
            bump = torch.exp(-(dx ** 2 + dy ** 2) / (2 * sigma ** 2))
            target[b, j] = torch.where((dx.abs() <= 3 * sigma) & (dy.abs() <= 3 * sigma), bump, 0.0)
    u = torch.rand(n, NUM_JOINTS, 1, generator=g)
    weight = torch.where(u < 0.25, 0.0, torch.where(u > 0.85, 1.5, 1.0))
    return target, weight


def make_training_golden(cfg, sd, x, official_loss):
    model = SimpleBaseline(cfg)
    model.load_state_dict(sd)
    model.train()
    g = torch.Generator().manual_seed(7)
    w, h = cfg['MODEL']['HEATMAP_SIZE']
    target, weight = gaussian_targets(g, x.shape[0], h, w)
    lr = cfg['TRAIN']['LR']
    opt = torch.optim.Adam(model.parameters(), lr=lr)  # the official get_optimizer: no weight decay
    names = {id(p): k for k, p in model.state_dict(keep_vars=True).items()}
    losses = []
    for step in (1, 2):
        opt.zero_grad()
        out = model(x)
        loss = joints_mse_loss(out, target, weight)
        if official_loss is not None:
            ref = load_module(official_loss, 'pose_loss_official').JointsMSELoss(True)(out, target, weight)
            print('official JointsMSELoss step %d: %.9g vs %.9g (|diff| %.3g)' % (step, ref.item(), loss.item(), abs(ref.item() - loss.item())))
            assert abs(ref.item() - loss.item()) <= 1e-6 * max(1.0, abs(ref.item()))
        loss.backward()
        losses.append(loss.item())
        if step == 1:
            grads = OrderedDict((names[id(p)], p.grad.detach().clone()) for p in model.parameters())
            mf.write_safetensors(os.path.join(HERE, 'train_gradients.safetensors'), grads)
        opt.step()
        if step == 1:
            mf.write_safetensors(os.path.join(HERE, 'train_step1.safetensors'), OrderedDict(
                (k, v) for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')))
    with torch.no_grad():  # checks the second step (train mode again: batch statistics)
        after = joints_mse_loss(model(x), target, weight).item()
    mf.save_npy(os.path.join(HERE, 'train_target.npy'), target.numpy())
    mf.save_npy(os.path.join(HERE, 'train_target_weight.npy'), weight.numpy())
    with open(os.path.join(HERE, 'train.json'), 'w') as f:
        json.dump({'input': 'input.npy', 'target': 'train_target.npy', 'target_weight': 'train_target_weight.npy',
                   'loss': 'JointsMSELoss, USE_TARGET_WEIGHT true', 'optimizer': 'adam', 'lr': lr,
                   'betas': [0.9, 0.999], 'eps': 1e-8, 'weight_decay': 0.0, 'bn_momentum': 0.1,
                   'losses': losses, 'loss_after_step2': after}, f, indent=1)
    print('training: losses %s, after step 2 %.6f' % (losses, after))


# ================================================================ torchvision-style backbone
def make_backbone_checkpoint(sd, planes_last, expansion):
    """The backbone keys of a torchvision ResNet (conv1, bn1, layer1..4, then fc), as the 2017
    ImageNet checkpoints the official configs name in MODEL.PRETRAINED: no num_batches_tracked,
    no deconv_layers / final_layer, and an `fc` head the pose model must ignore."""
    g = torch.Generator().manual_seed(8)
    out = OrderedDict((k, v) for k, v in sd.items()
                      if k.split('.')[0] in ('conv1', 'bn1', 'layer1', 'layer2', 'layer3', 'layer4')
                      and not k.endswith('num_batches_tracked'))
    out['fc.weight'] = torch.randn(10, planes_last * expansion, generator=g) * 0.1
    out['fc.bias'] = torch.randn(10, generator=g) * 0.1
    mf.write_safetensors(os.path.join(HERE, 'torchvision_style_backbone.safetensors'), out)
    try:  # the names and their order, against torchvision's own resnet18 (official widths)
        import torchvision
        tv = [k for k in torchvision.models.resnet18().state_dict() if not k.endswith('num_batches_tracked')]
        assert tv == list(out), 'not torchvision ResNet-18 key names'
        print('torchvision_style_backbone: %d keys, same names and order as torchvision resnet18' % len(out))
    except ImportError:
        pass


# ================================================================ main
def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--official', help="the official lib/models/pose_resnet.py (deep-high-resolution-net.pytorch)")
    parser.add_argument('--official-loss', help='the official lib/core/loss.py, to check the training loss')
    args = parser.parse_args()
    mf.ROOT = HERE
    g = torch.Generator().manual_seed(30)
    w, h = IMAGE_SIZE
    x = torch.randn(2, 3, h, w, generator=g)
    x_odd = torch.randn(1, 3, *ODD_SIZE, generator=g)
    mf.save_npy(os.path.join(HERE, 'input.npy'), x.numpy())
    mf.save_npy(os.path.join(HERE, 'input_odd.npy'), x_odd.numpy())

    sds = {}
    for name, (cfg, seed) in MODELS.items():
        save_yaml(os.path.join(HERE, name + '.yaml'), cfg)
        model = calibrate(mf.randomize(SimpleBaseline(cfg), seed), x)
        sd = OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
        sds[name] = sd
        mf.write_safetensors(os.path.join(HERE, name + '.safetensors'), sd)
        mf.torch_save(sd, os.path.join(HERE, name + '_zip.pth'))
        mf.torch_save(sd, os.path.join(HERE, name + '_legacy.pth'), legacy=True)
        with torch.no_grad():
            for suffix, inp in (('', x), ('_odd', x_odd)):
                y = model(inp)
                mf.save_npy(os.path.join(HERE, '%s_output%s.npy' % (name, suffix)), y.numpy())
                print('%-22s %-16s -> %-16s (backbone %s) mean %+.3f std %.3f max|y| %.2f' % (
                    name + suffix, tuple(inp.shape), tuple(y.shape), tuple(model.backbone(inp).shape[2:]),
                    y.mean().item(), y.std().item(), y.abs().max().item()))
        print('%-22s %d parameters' % (name, sum(p.numel() for p in model.parameters())))

    if args.official:
        check_official(args.official, x, x_odd)
    cfg = MODELS['tiny_pose_resnet'][0]
    make_training_golden(cfg, sds['tiny_pose_resnet'], x, args.official_loss)
    make_backbone_checkpoint(sds['tiny_pose_resnet'], cfg['MODEL']['EXTRA']['RESNET_PLANES'][-1], Basic.expansion)


if __name__ == '__main__':
    main()
