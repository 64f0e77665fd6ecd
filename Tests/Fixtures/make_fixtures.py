#!/usr/bin/env python3
"""Generates the golden test fixtures under Tests/Fixtures/ (run from the repository root):

    python3 -m venv /tmp/py && /tmp/py/bin/pip install torch numpy pyyaml safetensors
    /tmp/py/bin/python Tests/Fixtures/make_fixtures.py

An independent PyTorch implementation of HRNet (pose_hrnet and seg_hrnet / HRNetV2) written from
the paper and the official key names, with random weights AND random BN statistics, saved as
safetensors, zip .pth and legacy .pth, with inputs and outputs as .npy. Also small checkpoints
that exercise the loader (views, shared storages, fp16, wrapping) and broken or hostile files.
Python is needed only here; the Swift tests read the files."""
import io, os, pickle, struct, zipfile
from collections import OrderedDict
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

ROOT = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
np.random.seed(0)


# ---------------------------------------------------------------- the network
def conv_bn(cin, cout, k, stride=1, relu=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*(layers + ([nn.ReLU()] if relu else [])))


class Basic(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False); self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False); self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False); self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False); self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


BLOCKS = {'BASIC': Basic, 'BOTTLENECK': Bottleneck}


def blocks(block, cin, planes, n):
    layers = [block(cin, planes)]
    layers += [block(planes * block.expansion, planes) for _ in range(n - 1)]
    return nn.Sequential(*layers)


class Module(nn.Module):
    """Branches then fusion: y_i = relu(sum_j f_ij(x_j))."""

    def __init__(self, spec, cin, multi_scale, upsample):
        super().__init__()
        block = BLOCKS[spec['BLOCK']]
        n = spec['NUM_BRANCHES']
        self.branches = nn.ModuleList(
            [blocks(block, cin[b], spec['NUM_CHANNELS'][b], spec['NUM_BLOCKS'][b]) for b in range(n)])
        width = [c * block.expansion for c in spec['NUM_CHANNELS']]
        self.width, self.upsample, self.n = width, upsample, n
        self.fuse_layers = None
        if n > 1:
            rows = []
            for i in range(n if multi_scale else 1):
                row = []
                for j in range(n):
                    if j > i:
                        row.append(nn.Sequential(nn.Conv2d(width[j], width[i], 1, bias=False), nn.BatchNorm2d(width[i])))
                    elif j == i:
                        row.append(None)
                    else:
                        steps = []
                        for k in range(i - j):
                            last = k == i - j - 1
                            steps.append(conv_bn(width[j], width[i] if last else width[j], 3, 2, relu=not last))
                        row.append(nn.Sequential(*steps))
                rows.append(nn.ModuleList(row))
            self.fuse_layers = nn.ModuleList(rows)

    def forward(self, xs):
        xs = [b(x) for b, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        out = []
        for i, row in enumerate(self.fuse_layers):
            y = None
            for j in range(self.n):
                if j == i:
                    t = xs[j]
                elif j > i:
                    t = row[j](xs[j])
                    if self.upsample == 'nearest':
                        t = F.interpolate(t, scale_factor=2 ** (j - i), mode='nearest')
                    else:
                        t = F.interpolate(t, size=xs[i].shape[2:], mode='bilinear', align_corners=self.upsample == 'ac')
                else:
                    t = row[j](xs[j])
                y = t if y is None else y + t
            out.append(F.relu(y))
        return out


class HRNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        m = cfg['MODEL']; extra = m['EXTRA']
        self.pose = m['NAME'] == 'pose_hrnet'
        ac = m.get('ALIGN_CORNERS', True)
        self.align = ac
        upsample = 'nearest' if self.pose else ('ac' if ac else 'hp')
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False); self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False); self.bn2 = nn.BatchNorm2d(64)
        s1 = extra.get('STAGE1', {'BLOCK': 'BOTTLENECK', 'NUM_BLOCKS': [4], 'NUM_CHANNELS': [64]})
        b1 = BLOCKS[s1['BLOCK']]
        self.layer1 = blocks(b1, 64, s1['NUM_CHANNELS'][0], s1['NUM_BLOCKS'][0])
        widths = [s1['NUM_CHANNELS'][0] * b1.expansion]
        self.stages = []
        for k in (2, 3, 4):
            spec = extra['STAGE%d' % k]
            block = BLOCKS[spec['BLOCK']]
            cur = [c * block.expansion for c in spec['NUM_CHANNELS']]
            trans = []
            for i, c in enumerate(cur):
                if i < len(widths):
                    trans.append(None if widths[i] == c else conv_bn(widths[i], c, 3))
                else:
                    steps = [conv_bn(widths[-1], c if s == i - len(widths) else widths[-1], 3, 2) for s in range(i + 1 - len(widths))]
                    trans.append(nn.Sequential(*steps))
            setattr(self, 'transition%d' % (k - 1), nn.ModuleList(trans))
            mods = []
            for mi in range(spec['NUM_MODULES']):
                last = k == 4 and mi == spec['NUM_MODULES'] - 1
                mods.append(Module(spec, cur, not (last and self.pose), upsample))
            setattr(self, 'stage%d' % k, nn.Sequential(*mods))
            widths = cur
        k = extra.get('FINAL_CONV_KERNEL', 1)
        if self.pose:
            self.final_layer = nn.Conv2d(widths[0], m['NUM_JOINTS'], k, 1, 1 if k == 3 else 0)
        else:
            c = sum(widths)
            self.last_layer = nn.Sequential(nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU(),
                                            nn.Conv2d(c, cfg['DATASET']['NUM_CLASSES'], k, 1, 1 if k == 3 else 0))

    def forward(self, x):
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        xs = [self.layer1(x)]
        for k in (2, 3, 4):
            trans = getattr(self, 'transition%d' % (k - 1))
            xs = [(xs[i] if i < len(xs) else xs[-1]) if t is None else t(xs[i] if i < len(xs) else xs[-1])
                  for i, t in enumerate(trans)]
            for mod in getattr(self, 'stage%d' % k):
                xs = mod(xs)
        if self.pose:
            return self.final_layer(xs[0])
        up = [xs[0]] + [F.interpolate(x, size=xs[0].shape[2:], mode='bilinear', align_corners=self.align) for x in xs[1:]]
        return self.last_layer(torch.cat(up, 1))


def randomize(model):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif name.endswith('weight'):
                p.copy_(0.3 + 0.5 * torch.rand(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith('running_mean'):
                b.copy_(0.1 * torch.randn(b.shape, generator=g))
            elif name.endswith('running_var'):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
            elif name.endswith('num_batches_tracked'):
                b.fill_(7)
    return model.eval()


# ---------------------------------------------------------------- writers
def save_npy(path, a):
    np.save(path, np.ascontiguousarray(a, dtype=np.float32))


def save_safetensors(path, tensors, metadata=None):
    """Written by hand (the format is simple), so no extra package is needed."""
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


def tiny_config(name, stages, extra_model=None, dataset=None):
    cfg = {
        'GPUS': '(0,1,2,3)', 'OUTPUT_DIR': 'output', 'LOG_DIR': 'log', 'WORKERS': 4, 'PRINT_FREQ': 100,
        'CUDNN': {'BENCHMARK': True, 'DETERMINISTIC': False, 'ENABLED': True},
        'DATASET': dataset or {'DATASET': 'coco', 'ROOT': 'data/coco/', 'TEST_SET': 'val2017', 'TRAIN_SET': 'train2017',
                               'FLIP': True, 'ROT_FACTOR': 45, 'SCALE_FACTOR': 0.35},
        'MODEL': {'NAME': name, 'INIT_WEIGHTS': True, 'PRETRAINED': '', 'EXTRA': stages},
        'TRAIN': {'BATCH_SIZE_PER_GPU': 32, 'SHUFFLE': True, 'BEGIN_EPOCH': 0, 'END_EPOCH': 210, 'OPTIMIZER': 'adam',
                  'LR': 0.001, 'LR_FACTOR': 0.1, 'LR_STEP': [170, 200], 'WD': 0.0001, 'MOMENTUM': 0.9},
        'TEST': {'BATCH_SIZE_PER_GPU': 32, 'FLIP_TEST': True, 'POST_PROCESS': True, 'MODEL_FILE': ''},
    }
    cfg['MODEL'].update(extra_model or {})
    return cfg


def stage(modules, blocks_, channels, block='BASIC'):
    return {'NUM_MODULES': modules, 'NUM_BRANCHES': len(channels), 'BLOCK': block,
            'NUM_BLOCKS': [blocks_] * len(channels), 'NUM_CHANNELS': channels, 'FUSE_METHOD': 'SUM'}


def make_model_fixtures(name, cfg, inputs, formats=('safetensors', 'zip', 'legacy')):
    out = os.path.join(ROOT, 'hrnet')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name + '.yaml'), 'w') as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    model = randomize(HRNet(cfg))
    # Scale the head so outputs are O(1): the tolerance (1e-4 absolute) then means ~1e-4 relative.
    head = model.final_layer if model.pose else model.last_layer[3]
    with torch.no_grad():
        std = model(next(iter(inputs.values()))).std().item()
        head.weight /= std
        head.bias /= std
    sd = model.state_dict()
    save_safetensors(os.path.join(out, name + '.safetensors'), {k: v for k, v in sd.items()})
    if 'zip' in formats:
        torch.save(sd, os.path.join(out, name + '_zip.pth'))
    if 'legacy' in formats:
        torch.save(sd, os.path.join(out, name + '_legacy.pth'), _use_new_zipfile_serialization=False)
    for suffix, x in inputs.items():
        with torch.no_grad():
            y = model(x)
        save_npy(os.path.join(out, '%s_input%s.npy' % (name, suffix)), x.numpy())
        save_npy(os.path.join(out, '%s_output%s.npy' % (name, suffix)), y.numpy())
        print(name + suffix, tuple(x.shape), '->', tuple(y.shape), 'output std %.3f' % y.std().item())
    return model, sd


def main():
    g = torch.Generator().manual_seed(2)
    tiny_stages = {
        'FINAL_CONV_KERNEL': 1,
        'STAGE1': {'NUM_MODULES': 1, 'NUM_RANCHES': 1, 'BLOCK': 'BOTTLENECK', 'NUM_BLOCKS': [1], 'NUM_CHANNELS': [4]},
        'STAGE2': stage(1, 1, [4, 8]),
        'STAGE3': stage(2, 1, [4, 8, 16]),
        'STAGE4': stage(2, 1, [4, 8, 16, 24]),
    }
    pose_cfg = tiny_config('pose_hrnet', tiny_stages, {'NUM_JOINTS': 5, 'TARGET_TYPE': 'gaussian', 'IMAGE_SIZE': [96, 128],
                                                       'HEATMAP_SIZE': [24, 32], 'SIGMA': 2})
    _, pose_sd = make_model_fixtures('tiny_pose', pose_cfg, {'': torch.randn(2, 3, 128, 96, generator=g)})
    # A training checkpoint as the official code writes it (DataParallel keys), legacy format.
    torch.save({'epoch': 1, 'model': 'pose_hrnet', 'state_dict': OrderedDict(('module.' + k, v) for k, v in pose_sd.items()),
                'perf': np.float64(0.5), 'optimizer': {'state': {}, 'param_groups': [{'lr': 0.001}]}},
               os.path.join(ROOT, 'hrnet', 'tiny_pose_wrapped.pth'), _use_new_zipfile_serialization=False)

    seg_stages = dict(tiny_stages, STAGE2=stage(1, 1, [4, 6]), STAGE3=stage(1, 1, [4, 6, 12]), STAGE4=stage(1, 1, [4, 6, 12, 20]))
    seg_data = {'DATASET': 'cityscapes', 'ROOT': 'data/', 'TEST_SET': 'val.lst', 'TRAIN_SET': 'train.lst', 'NUM_CLASSES': 4}
    for name, ac in (('tiny_seg', True), ('tiny_seg_ac_false', False)):
        cfg = tiny_config('seg_hrnet', seg_stages, {'ALIGN_CORNERS': ac, 'IMAGE_SIZE': [96, 64]}, seg_data)
        make_model_fixtures(name, cfg, {'': torch.randn(2, 3, 64, 96, generator=g), '_odd': torch.randn(1, 3, 50, 70, generator=g)},
                            ('safetensors', 'zip', 'legacy') if ac else ('safetensors',))

    make_broken(pose_cfg)
    make_checkpoint_cases()


# ---------------------------------------------------------------- loader cases
def make_broken(pose_cfg):
    out = os.path.join(ROOT, 'hrnet', 'broken')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'bad_yaml.yaml'), 'w') as f:
        f.write('MODEL:\n  NAME: pose_hrnet\n  EXTRA: [unclosed\n    STAGE2: {\n')
    for name, edit in (('missing_stage', lambda c: c['MODEL']['EXTRA'].pop('STAGE3')),
                       ('bad_channels', lambda c: c['MODEL']['EXTRA']['STAGE3'].update(NUM_CHANNELS=[8, 16])),
                       ('unknown_model', lambda c: c['MODEL'].update(NAME='pose_resnet'))):
        import copy
        c = copy.deepcopy(pose_cfg); edit(c)
        with open(os.path.join(out, name + '.yaml'), 'w') as f:
            yaml.safe_dump(c, f, sort_keys=False)


class Hostile:
    """Pickles as a call of os.system; the loader must refuse it, never run it."""

    def __reduce__(self):
        return (os.system, ('echo hostile',))


def make_checkpoint_cases():
    out = os.path.join(ROOT, 'checkpoint')
    os.makedirs(out, exist_ok=True)
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
    torch.save(sd, os.path.join(out, 'state_zip.pth'))
    torch.save(sd, os.path.join(out, 'state_legacy.pth'), _use_new_zipfile_serialization=False)
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
        z.writestr('archive/data.pkl', pickle.dumps(OrderedDict(x=Hostile()), protocol=4))
        z.writestr('archive/version', '3\n')
    with open(os.path.join(out, 'hostile_zip.pth'), 'wb') as f:
        f.write(buf.getvalue())
    # protocol 4: STACK_GLOBAL builtins.eval
    evil = b'\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x0b1+1\x94\x85\x94R\x94.'
    with open(os.path.join(out, 'hostile_eval.pth'), 'wb') as f:
        f.write(b'PK\x03\x04' + b'\x00' * 10 if False else evil)
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


if __name__ == '__main__':
    main()
