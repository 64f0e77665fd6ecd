#!/usr/bin/env python3
"""Golden fixtures of two non-HRNet baselines for the Swift tests: MMPose's stacked hourglass and
MMSegmentation's U-Net (run from the repository root):

    python3 -m venv /tmp/py && /tmp/py/bin/pip install torch numpy pyyaml safetensors \
        mmengine==0.10.7 mmcv-lite==2.1.0   # or mmcv 2.1.0; no compiled ops are used
    /tmp/py/bin/pip install --no-deps mmpose==1.3.2 mmsegmentation==1.2.2
    /tmp/py/bin/python Tests/Fixtures/baselines/make_baseline_fixtures.py

The networks are MMPose's and MMSegmentation's OWN classes (mmpose 1.3.2 HourglassNet + CPMHead,
mmseg 1.2.2 UNet + FCNHead), not copies. Their package __init__ chains pull in datasets,
evaluation, mmcv's compiled ops and a CLIP tokenizer (xtcocotools, munkres, mmcv._ext, ftfy,
regex), so `load_openmmlab` puts the packages into sys.modules as empty namespace modules that
point at the installed folders and executes only the files needed (the model files, their block
and loss files, the registries); the few names those files import for type hints or for losses
not used here are stubs. One deviation, forced by MMPose itself: HourglassNet hard-codes its stem
as 3 -> 128 -> 256 channels whatever stage_channels says, so a tiny stage_channels[0] (8 here)
cannot run (conv of 8 input channels fed 256). The stem is rebuilt with MMPose's own ConvModule /
ResLayer / BasicBlock at stage_channels[0] / 2 -> stage_channels[0] (4 -> 8), which is what this
project builds (and equals MMPose's for the real stage_channels[0] = 256); key names unchanged.
The helpers (randomize, calibrate, writers, torch_save, the pose targets and loss) are imported
from ../make_fixtures.py and ../poseresnet/make_pose_resnet_fixtures.py.

Writes (Tests/Fixtures/baselines/, see README.md there):

A. Stacked hourglass (2 stacks, downsample_times 3, stage_channels 8/8/12/16, stage_blocks
   1/1/1/2, feat_channel 8, 17 joints; multi-stage head: one 1x1 conv with bias per stack):
- tiny_hourglass.yaml: MODEL.NAME pose_hourglass, EXTRA NUM_STACKS / DOWNSAMPLE_TIMES /
  STAGE_CHANNELS / STAGE_BLOCKS / FEAT_CHANNEL (this project's names for HourglassNet's arguments),
  sections as ../poseresnet/tiny_pose_resnet.yaml, DATASET.COLOR_RGB true;
- tiny_hourglass.safetensors, tiny_hourglass_zip.pth, tiny_hourglass_legacy.pth: MMPose 0.x key
  names (`backbone.*`, `keypoint_head.multi_final_layers.{i}.{weight,bias}`), no
  num_batches_tracked; random weights and BN statistics, calibrated so activations are O(1);
- tiny_hourglass_mmpose1.pth: {'meta': {...}, 'state_dict': {...}} as MMPose 1.x saves it: the
  head under `head.multi_final_layers.*`, plus `data_preprocessor.mean` / `.std` [3, 1, 1];
- input64.npy (2, 3, 64, 64) and hourglass_outputs.npy (2 stacks, 2, 17, 16, 16): eval-mode
  heatmaps of every stack (MMPose tests with the last one);
- hourglass1_keys.txt: `key d0,d1,...` of the same tiny net with ONE stack and a 1-stage head
  (it still has `backbone.inters.0.*`: ResLayer always makes its first block);
- hourglass_train.json, hourglass_train_gradients.safetensors, hourglass_train_step1.safetensors,
  hourglass_train_target.npy (2, 17, 16, 16), hourglass_train_target_weight.npy (2, 17, 1):
  one train-mode Adam step (lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay) on input64.npy.
  Loss = SUM over the 2 stacks of THIS project's JointsMSELoss with target weight, the official
  HRNet one: 0.5 * mean over (batch, joint, pixel) of (w * (pred - target))^2. (MMPose's
  KeypointMSELoss has no 0.5 and multiplies the squared error by w, not w^2; its value is in the
  json as `mmpose_keypoint_mse_loss` for reference only.) We use our convention for both networks.

B. U-Net (UNet base 4, 4 stages, enc convs 2/2/1/1, dec convs 1/2/1, 3 downsamplings, BN,
   InterpConv; FCNHead decode head on the last output, FCNHead auxiliary head on the one before,
   both 6 channels, 1 conv, no concat, dropout 0.1, 3 classes, align_corners False):
- tiny_unet.yaml: MODEL.NAME seg_unet, sections as ../ocr/tiny_ocr.yaml;
- tiny_unet.safetensors, tiny_unet_zip.pth, tiny_unet_legacy.pth (keys `backbone.encoder.*`,
  `backbone.decoder.*`, `decode_head.*`, `auxiliary_head.*`, num_batches_tracked as I64 kept),
  tiny_unet_mmseg.pth: {'meta': {...}, 'state_dict': {...}} as MMSeg saves it (num_batches_tracked kept);
- input_unet.npy (2, 3, 32, 48), unet_aux.npy (2, 3, 16, 24), unet_main.npy (2, 3, 32, 48); and
  input_unet_odd.npy (1, 3, 16, 40), unet_aux_odd.npy, unet_main_odd.npy: eval-mode logits;
- unet_train.json, unet_train_gradients.safetensors, unet_train_step1.safetensors (no
  num_batches_tracked), unet_train_labels.npy (2, 32, 48) INT64 (classes 0..2, some 255 = ignore),
  and the same labels as float32 in unet_train_labels_f32.npy (this project's NPY reader takes
  float32 only): one train-mode SGD step (lr 0.01, momentum 0.9, weight decay 5e-4,
  torch.optim.SGD) with dropout OFF (p = 0 in both heads: the engine draws its own masks).
  Loss = 0.4 * CE(aux logits resized bilinearly, align_corners False, to the labels) + 1.0 *
  CE(main), CE = mean over the NON-IGNORED pixels (this project's convention, as the official
  HRNet segmentation CrossEntropy with ignore_label 255). MMSeg's CrossEntropyLoss
  (avg_non_ignore False) divides by ALL pixels, ignored ones included; that value is in the json
  as `mmseg_loss` for reference only;
- unet_keys_s5.txt: `key d0,d1,...` (no num_batches_tracked) of the full-size unet-s5-d16 (base
  64, 5 stages) + decode head (64 ch, 2 classes) + auxiliary head (128 in, 64 ch).

Seeded, one torch thread; re-running in place changes no bytes (.pth files kept when they load to
the same object, see torch_save in ../make_fixtures.py).
"""
import importlib
import importlib.util
import json
import os
import sys
import types
import typing
import warnings
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.dirname(HERE)
sys.path.insert(0, FIXTURES)
sys.path.insert(0, os.path.join(FIXTURES, 'poseresnet'))
import make_fixtures as mf  # noqa: E402
import make_pose_resnet_fixtures as mprf  # noqa: E402

torch.set_num_threads(1)
warnings.filterwarnings('ignore')

NUM_JOINTS = 17
HG_EXTRA = OrderedDict([('NUM_STACKS', 2), ('DOWNSAMPLE_TIMES', 3), ('STAGE_CHANNELS', [8, 8, 12, 16]),
                        ('STAGE_BLOCKS', [1, 1, 1, 2]), ('FEAT_CHANNEL', 8)])
HG_SIZE = 64                 # square input; multiple of 4 * 2^DOWNSAMPLE_TIMES = 32

CLASSES = 3
UNET_EXTRA = OrderedDict([('BASE_CHANNELS', 4), ('ENC_NUM_CONVS', [2, 2, 1, 1]), ('DEC_NUM_CONVS', [1, 2, 1]),
                          ('HEAD_CHANNELS', 6), ('AUX_HEAD', True), ('DROPOUT', 0.1)])
UNET_SIZE = (32, 48)         # (h, w); multiples of 2^3 (three downsamplings)
UNET_ODD_SIZE = (16, 40)     # multiples of 8 but not of 16: levels 16x40, 8x20, 4x10, 2x5
BN = dict(type='BN', requires_grad=True)


# ================================================================ the real MMPose / MMSeg classes
def _module(name, path=None, **attrs):
    m = types.ModuleType(name)
    if path is not None:
        m.__path__ = [path]  # a package whose __init__.py is NOT run; its files import normally
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def _type_hint(attr):
    """Module __getattr__ for the typing-only modules: every public name is typing.Any."""
    if attr.startswith('__'):
        raise AttributeError(attr)
    return typing.Any


def _unavailable(*args, **kwargs):
    raise NotImplementedError('stubbed out by make_baseline_fixtures.py')


def load_openmmlab():
    """Executes the installed mmpose / mmseg model files without the packages' __init__ chains.
    Real: hourglass.py, resnet.py, base_backbone.py, cpm_head.py, base_head.py, heatmap_loss.py,
    mmpose/registry.py, models/utils/tta.py, utils/tensor_utils.py; unet.py, up_conv_block.py,
    wrappers.py, fcn_head.py, decode_head.py, builder.py, losses/{cross_entropy_loss,accuracy,utils}.py,
    mmseg/registry. Stubbed: mmpose.utils.typing and mmseg.utils (type hints), pose_pck_accuracy
    (accuracy logging) and mmseg build_pixel_sampler (no sampler is configured)."""
    site = os.path.dirname(os.path.dirname(importlib.util.find_spec('mmengine').origin))
    for root, packages in (('mmpose', ('', 'models', 'models.backbones', 'models.heads', 'models.heads.heatmap_heads',
                                       'models.utils', 'models.losses', 'utils', 'evaluation')),
                           ('mmseg', ('', 'models', 'models.backbones', 'models.utils', 'models.decode_heads',
                                      'models.losses', 'utils'))):
        for p in packages:
            name = root + ('.' + p if p else '')
            _module(name, os.path.join(site, root, *p.split('.')) if p else os.path.join(site, root))
    _module('mmpose.evaluation.functional', pose_pck_accuracy=_unavailable)
    _module('mmpose.utils.typing').__getattr__ = _type_hint
    sys.modules['mmseg.utils'].__getattr__ = _type_hint
    _module('mmseg.structures', build_pixel_sampler=_unavailable)

    hourglass = importlib.import_module('mmpose.models.backbones.hourglass')
    importlib.import_module('mmpose.models.losses.heatmap_loss')  # registers KeypointMSELoss
    cpm = importlib.import_module('mmpose.models.heads.heatmap_heads.cpm_head')
    utils = sys.modules['mmseg.models.utils']
    wrappers = importlib.import_module('mmseg.models.utils.wrappers')
    utils.Upsample, utils.resize = wrappers.Upsample, wrappers.resize
    utils.UpConvBlock = importlib.import_module('mmseg.models.utils.up_conv_block').UpConvBlock
    sys.modules['mmseg.models.losses'].accuracy = importlib.import_module('mmseg.models.losses.accuracy').accuracy
    importlib.import_module('mmseg.models.losses.cross_entropy_loss')  # registers CrossEntropyLoss
    unet = importlib.import_module('mmseg.models.backbones.unet')
    fcn = importlib.import_module('mmseg.models.decode_heads.fcn_head')
    import mmpose.version
    import mmseg.version
    print('mmpose %s (%s), mmseg %s (%s)' % (mmpose.version.__version__, hourglass.__file__,
                                             mmseg.version.__version__, unet.__file__))
    return types.SimpleNamespace(hourglass=hourglass, CPMHead=cpm.CPMHead, UNet=unet.UNet, FCNHead=fcn.FCNHead)


def mmseg_scope():
    """The default scope an MMSeg run sets (init_default_scope('mmseg')): mmcv's
    build_upsample_layer looks `InterpConv` up in it."""
    from mmengine.registry import DefaultScope
    return DefaultScope.overwrite_default_scope('mmseg')


def keys_text(sd):
    return ''.join('%s %s\n' % (k, ','.join(str(d) for d in v.shape))
                   for k, v in sd.items() if not k.endswith('num_batches_tracked'))


def without_nbt(sd):
    return OrderedDict((k, v) for k, v in sd.items() if not k.endswith('num_batches_tracked'))


def count(model):
    return sum(p.numel() for p in model.parameters())


def path(name):
    return os.path.join(HERE, name)


def gradients(model):
    names = {id(p): k for k, p in model.state_dict(keep_vars=True).items()}
    return OrderedDict((names[id(p)], p.grad.detach().clone()) for p in model.parameters())


def write_json(name, obj):
    with open(path(name), 'w') as f:
        json.dump(obj, f, indent=1)
        f.write('\n')


# ================================================================ A. stacked hourglass
class TopdownHourglass(nn.Module):
    """`backbone` = MMPose HourglassNet, `keypoint_head` = MMPose CPMHead (the 1.x class; its
    `multi_final_layers` names equal 0.x TopdownHeatmapMultiStageHead's). Returns every stack's
    heatmaps."""

    def __init__(self, mm, extra, joints=NUM_JOINTS, tiny_stem=True):
        super().__init__()
        hg = mm.hourglass
        self.backbone = hg.HourglassNet(
            downsample_times=extra['DOWNSAMPLE_TIMES'], num_stacks=extra['NUM_STACKS'],
            stage_channels=tuple(extra['STAGE_CHANNELS']), stage_blocks=tuple(extra['STAGE_BLOCKS']),
            feat_channel=extra['FEAT_CHANNEL'])
        c = extra['STAGE_CHANNELS'][0]
        if tiny_stem:  # same modules as MMPose's stem, at c/2 -> c instead of the fixed 128 -> 256
            self.backbone.stem = nn.Sequential(
                hg.ConvModule(3, c // 2, 7, padding=3, stride=2, norm_cfg=BN),
                hg.ResLayer(hg.BasicBlock, 1, c // 2, c, stride=2, norm_cfg=BN))
        self.keypoint_head = mm.CPMHead(in_channels=extra['FEAT_CHANNEL'], out_channels=joints,
                                        num_stages=extra['NUM_STACKS'], deconv_out_channels=None,
                                        final_layer=dict(kernel_size=1))

    def forward(self, x):
        return self.keypoint_head(self.backbone(x))


def hourglass_config():
    """Sections and keys of ../poseresnet/tiny_pose_resnet.yaml (the official res50 experiment
    file), COLOR_RGB true (MMPose feeds RGB), TRAIN schedule as MMPose's hourglass52 recipe
    (210 epochs, steps 170/200), LR 1e-3 as the golden step; MODEL is the hourglass."""
    cfg = mprf.config(18, [8, 16, 24, 32], True, [16], [4], 1)
    cfg['DATASET']['COLOR_RGB'] = True
    cfg['MODEL'] = OrderedDict([
        ('NAME', 'pose_hourglass'), ('PRETRAINED', ''), ('IMAGE_SIZE', [HG_SIZE, HG_SIZE]),
        ('HEATMAP_SIZE', [HG_SIZE // 4, HG_SIZE // 4]), ('SIGMA', 2), ('NUM_JOINTS', NUM_JOINTS),
        ('TARGET_TYPE', 'gaussian'), ('EXTRA', dict(HG_EXTRA))])
    cfg['TRAIN'].update(END_EPOCH=210, LR_STEP=[170, 200])
    return cfg


HG_COMMENT = ('  # This project\'s names for MMPose HourglassNet(num_stacks, downsample_times, stage_channels,\n'
              '  # stage_blocks, feat_channel); the head has one 1x1 conv per stack (CPMHead, no deconv).\n')


def save_hourglass_yaml(name, cfg):
    mf.save_yaml(path(name), json.loads(json.dumps(cfg)))
    text = open(path(name)).read().replace('  EXTRA:\n', HG_COMMENT + '  EXTRA:\n', 1)
    with open(path(name), 'w') as f:
        f.write(text)


def make_hourglass(mm):
    cfg = hourglass_config()
    save_hourglass_yaml('tiny_hourglass.yaml', cfg)
    x = torch.randn(2, 3, HG_SIZE, HG_SIZE, generator=torch.Generator().manual_seed(50))
    mf.save_npy(path('input64.npy'), x.numpy())

    # MMPose's stem as it is cannot run the tiny widths (the reason for tiny_stem).
    try:
        TopdownHourglass(mm, HG_EXTRA, tiny_stem=False).eval()(x)
        raise AssertionError('the unmodified HourglassNet ran a stage_channels[0] = 8 net')
    except RuntimeError as e:
        print('unmodified MMPose HourglassNet with stage_channels[0] = 8 fails as expected: %s' % str(e)[:110])

    model = mf.calibrate(mf.randomize(TopdownHourglass(mm, HG_EXTRA), 51), x)
    sd = OrderedDict((k, v.clone()) for k, v in without_nbt(model.state_dict()).items())
    assert all(k.startswith(('backbone.', 'keypoint_head.multi_final_layers.')) for k in sd), list(sd)
    mf.write_safetensors(path('tiny_hourglass.safetensors'), sd)
    mf.torch_save(sd, path('tiny_hourglass_zip.pth'))
    mf.torch_save(sd, path('tiny_hourglass_legacy.pth'), legacy=True)
    v1 = OrderedDict([('data_preprocessor.mean', torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)),
                      ('data_preprocessor.std', torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1))])
    v1.update((k.replace('keypoint_head.', 'head.', 1), v) for k, v in sd.items())
    mf.torch_save({'meta': {'mmengine_version': '0.10.7', 'mmpose_version': '1.3.2', 'epoch': 210, 'iter': 98070,
                            'seed': 0, 'dataset_meta': {'dataset_name': 'coco', 'num_keypoints': NUM_JOINTS}},
                   'state_dict': v1}, path('tiny_hourglass_mmpose1.pth'))

    model.eval()
    with torch.no_grad():
        outs = model(x)
    y = torch.stack(outs)
    mf.save_npy(path('hourglass_outputs.npy'), y.numpy())
    print('tiny_hourglass: %d parameters, %d state-dict tensors (no num_batches_tracked); %s -> %s, '
          'stack std %s, max|y| %.2f' % (count(model), len(sd), tuple(x.shape), tuple(y.shape),
                                         ['%.3f' % o.std().item() for o in outs], y.abs().max().item()))
    for bad in (48, 40):  # not multiples of 32
        try:
            model(torch.zeros(1, 3, bad, bad))
            print('  %dx%d input: ran' % (bad, bad))
        except RuntimeError as e:
            print('  %dx%d input: fails (%s)' % (bad, bad, str(e).split('\n')[0][:90]))

    one = dict(HG_EXTRA, NUM_STACKS=1)
    m1 = TopdownHourglass(mm, one)
    with open(path('hourglass1_keys.txt'), 'w') as f:
        f.write(keys_text(m1.state_dict()))
    inters = [k for k in without_nbt(m1.state_dict()) if k.startswith('backbone.inters.')]
    print('one stack: %d keys (no num_batches_tracked), %d parameters, backbone.inters.0.* present: %s (%d keys); '
          'conv1x1s/remap_convs keys: %d; output %s' % (
              len(without_nbt(m1.state_dict())), count(m1), bool(inters), len(inters),
              sum(k.startswith(('backbone.conv1x1s', 'backbone.remap_convs')) for k in m1.state_dict()),
              [tuple(o.shape) for o in m1.eval()(x)]))

    full = TopdownHourglass(mm, OrderedDict([('NUM_STACKS', 1), ('DOWNSAMPLE_TIMES', 5),
                                             ('STAGE_CHANNELS', [256, 256, 384, 384, 384, 512]),
                                             ('STAGE_BLOCKS', [2, 2, 2, 2, 2, 4]), ('FEAT_CHANNEL', 256)]),
                            tiny_stem=False)
    fsd = full.state_dict()
    print('hourglass52 (MMPose defaults, num_stacks 1) + 1-stage head: %d state-dict entries (%d without '
          'num_batches_tracked), %s parameters' % (len(fsd), len(without_nbt(fsd)), format(count(full), ',')))
    del full, fsd
    make_hourglass_training(mm, sd, x)


def make_hourglass_training(mm, sd, x):
    model = TopdownHourglass(mm, HG_EXTRA)
    missing, unexpected = model.load_state_dict(sd, strict=False)  # the files have no num_batches_tracked
    assert not unexpected and all(k.endswith('num_batches_tracked') for k in missing), (missing, unexpected)
    model.train()
    w, h = hourglass_config()['MODEL']['HEATMAP_SIZE']
    target, weight = mprf.gaussian_targets(torch.Generator().manual_seed(52), x.shape[0], h, w)
    lr = 1e-3
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    def loss_of(outs):
        return sum(mprf.joints_mse_loss(o, target, weight) for o in outs)

    outs = model(x)
    loss = loss_of(outs)
    mmpose_loss = sum(model.keypoint_head.loss_module(o, target, weight[:, :, 0]) for o in outs).item()
    assert model.keypoint_head.loss_module.use_target_weight
    opt.zero_grad()
    loss.backward()
    mf.write_safetensors(path('hourglass_train_gradients.safetensors'), gradients(model))
    opt.step()
    mf.write_safetensors(path('hourglass_train_step1.safetensors'), without_nbt(model.state_dict()))
    with torch.no_grad():
        after = loss_of(model(x)).item()  # train mode again: batch statistics
    mf.save_npy(path('hourglass_train_target.npy'), target.numpy())
    mf.save_npy(path('hourglass_train_target_weight.npy'), weight.numpy())
    write_json('hourglass_train.json', {
        'input': 'input64.npy', 'target': 'hourglass_train_target.npy',
        'target_weight': 'hourglass_train_target_weight.npy',
        'loss_definition': 'sum over stacks of JointsMSELoss (USE_TARGET_WEIGHT): 0.5 * mean((w * (pred - target))^2)',
        'optimizer': 'adam', 'lr': lr, 'betas': [0.9, 0.999], 'eps': 1e-8, 'weight_decay': 0.0, 'bn_momentum': 0.1,
        'loss': loss.item(), 'loss_after_step': after,
        'per_stack_losses': [mprf.joints_mse_loss(o, target, weight).item() for o in outs],
        'mmpose_keypoint_mse_loss': mmpose_loss,
    })
    print('hourglass training: loss %.6f (per stack %s), after the step %.6f; MMPose KeypointMSELoss sum %.6f'
          % (loss.item(), ['%.6f' % mprf.joints_mse_loss(o, target, weight).item() for o in outs], after, mmpose_loss))


# ================================================================ B. U-Net
class UNetSegmentor(nn.Module):
    """MMSeg EncoderDecoder's modules: `backbone` UNet, `decode_head` FCNHead on the last (full
    resolution) output, `auxiliary_head` FCNHead on the one before. Returns (aux, main) logits."""

    def __init__(self, mm, base, enc, dec, head_channels, classes, dropout, aux_channels=None):
        super().__init__()
        stages = len(enc)
        with mmseg_scope():
            self.backbone = mm.UNet(
                in_channels=3, base_channels=base, num_stages=stages, strides=(1,) * stages,
                enc_num_convs=tuple(enc), dec_num_convs=tuple(dec), downsamples=(True,) * (stages - 1),
                enc_dilations=(1,) * stages, dec_dilations=(1,) * (stages - 1), with_cp=False, conv_cfg=None,
                norm_cfg=BN, act_cfg=dict(type='ReLU'), upsample_cfg=dict(type='InterpConv'), norm_eval=False)
            head = dict(num_convs=1, concat_input=False, dropout_ratio=dropout, num_classes=classes,
                        norm_cfg=BN, align_corners=False)
            self.decode_head = mm.FCNHead(in_channels=base, in_index=stages - 1, channels=head_channels, **head)
            self.auxiliary_head = mm.FCNHead(in_channels=2 * base, in_index=stages - 2,
                                             channels=aux_channels or head_channels, **head)

    def forward(self, x):
        feats = self.backbone(x)
        return self.auxiliary_head(feats), self.decode_head(feats)


def unet_config():
    """Sections and keys of ../ocr/tiny_ocr.yaml (the official HRNet-OCR cityscapes files)."""
    cfg = mf.tiny_seg_config(False)
    h, w = UNET_SIZE
    cfg['DATASET']['NUM_CLASSES'] = CLASSES
    cfg['MODEL'] = OrderedDict([('NAME', 'seg_unet'), ('ALIGN_CORNERS', False), ('PRETRAINED', ''),
                                ('EXTRA', dict(UNET_EXTRA)), ('NUM_OUTPUTS', 2)])
    cfg['LOSS'] = {'USE_OHEM': False, 'OHEMTHRES': 0.9, 'OHEMKEEP': 131072, 'BALANCE_WEIGHTS': [0.4, 1]}
    for section in ('TRAIN', 'TEST'):
        cfg[section].update(IMAGE_SIZE=[w, h], BASE_SIZE=w)
    return json.loads(json.dumps(cfg))


def tiny_unet(mm):
    e = UNET_EXTRA
    return UNetSegmentor(mm, e['BASE_CHANNELS'], e['ENC_NUM_CONVS'], e['DEC_NUM_CONVS'], e['HEAD_CHANNELS'],
                         CLASSES, e['DROPOUT'])


def make_unet(mm):
    cfg = unet_config()
    mf.save_yaml(path('tiny_unet.yaml'), cfg)
    g = torch.Generator().manual_seed(60)
    x = torch.randn(2, 3, *UNET_SIZE, generator=g)
    x_odd = torch.randn(1, 3, *UNET_ODD_SIZE, generator=g)
    model = mf.calibrate(mf.randomize(tiny_unet(mm), 61), x)
    sd = OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    assert all(k.startswith(('backbone.encoder.', 'backbone.decoder.', 'decode_head.', 'auxiliary_head.'))
               for k in sd), list(sd)
    mf.write_safetensors(path('tiny_unet.safetensors'), sd)
    mf.torch_save(sd, path('tiny_unet_zip.pth'))
    mf.torch_save(sd, path('tiny_unet_legacy.pth'), legacy=True)
    mf.torch_save({'meta': {'mmseg_version': '1.2.2', 'config': "model = dict(type='EncoderDecoder')",
                            'CLASSES': ('background', 'vessel', 'other'),
                            'PALETTE': [[120, 120, 120], [6, 230, 230], [0, 0, 255]], 'epoch': 1, 'iter': 40000},
                   'state_dict': sd}, path('tiny_unet_mmseg.pth'))
    model.eval()
    for suffix, inp in (('', x), ('_odd', x_odd)):
        with torch.no_grad():
            aux, main = model(inp)
        mf.save_npy(path('input_unet%s.npy' % suffix), inp.numpy())
        mf.save_npy(path('unet_aux%s.npy' % suffix), aux.numpy())
        mf.save_npy(path('unet_main%s.npy' % suffix), main.numpy())
        print('tiny_unet%-4s %s -> aux %s, main %s; main std %.3f, max|y| %.2f' % (
            suffix, tuple(inp.shape), tuple(aux.shape), tuple(main.shape), main.std().item(), main.abs().max().item()))
    print('tiny_unet: %d parameters, %d state-dict tensors (%d without num_batches_tracked)'
          % (count(model), len(sd), len(without_nbt(sd))))
    for bad in ((20, 40), (12, 40)):  # not multiples of 8
        try:
            model(torch.zeros(1, 3, *bad))
            print('  %dx%d input: ran' % bad)
        except Exception as e:
            print('  %dx%d input: fails (%s: %s)' % (bad + (type(e).__name__, str(e).split('\n')[0][:100])))

    s5 = UNetSegmentor(mm, 64, [2] * 5, [2] * 4, 64, 2, 0.1)  # aux: in 128, 64 channels, as the config
    with open(path('unet_keys_s5.txt'), 'w') as f:
        f.write(keys_text(s5.state_dict()))
    print('unet-s5-d16 + FCN decode (64 ch, 2 classes) + aux (128 in, 64 ch): %d state-dict entries '
          '(%d without num_batches_tracked), %s parameters' % (
              len(s5.state_dict()), len(without_nbt(s5.state_dict())), format(count(s5), ',')))
    make_unet_training(mm, cfg, sd, x)


def make_unet_training(mm, cfg, sd, x):
    model = tiny_unet(mm)
    model.load_state_dict(sd)
    model.train()
    for head in (model.decode_head, model.auxiliary_head):
        head.dropout.p = 0.0  # dropout off: the engine draws its own masks
    g = torch.Generator().manual_seed(62)
    n, _, h, w = x.shape
    labels = torch.randint(0, CLASSES, (n, h, w), generator=g)
    labels[torch.rand(n, h, w, generator=g) < 0.1] = 255
    weights = cfg['LOSS']['BALANCE_WEIGHTS']
    lr, momentum, wd = 0.01, 0.9, 5e-4
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
    ce = nn.CrossEntropyLoss(ignore_index=255)  # mean over the non-ignored pixels

    def resized(o):
        return F.interpolate(o, size=(h, w), mode='bilinear', align_corners=False)

    def loss_of(outs):
        return sum(wt * ce(resized(o), labels) for wt, o in zip(weights, outs))

    outs = model(x)
    loss = loss_of(outs)
    mmseg_loss = sum(wt * head.loss_decode(resized(o), labels, weight=None, ignore_index=255)
                     for wt, o, head in zip(weights, outs, (model.auxiliary_head, model.decode_head))).item()
    opt.zero_grad()
    loss.backward()
    mf.write_safetensors(path('unet_train_gradients.safetensors'), gradients(model))
    opt.step()
    mf.write_safetensors(path('unet_train_step1.safetensors'), without_nbt(model.state_dict()))
    with torch.no_grad():
        after = loss_of(model(x)).item()  # train mode again: batch statistics
    np.save(path('unet_train_labels.npy'), labels.numpy().astype('<i8'))
    mf.save_npy(path('unet_train_labels_f32.npy'), labels.numpy().astype(np.float32))
    ignored = int((labels == 255).sum())
    write_json('unet_train.json', {
        'input': 'input_unet.npy', 'labels': 'unet_train_labels.npy (int64; unet_train_labels_f32.npy float32)',
        'ignore_label': 255, 'ignored_pixels': ignored, 'pixels': labels.numel(),
        'loss_definition': '0.4 * CE(aux resized bilinear, align_corners false) + 1.0 * CE(main); CE mean over non-ignored pixels',
        'balance_weights': weights, 'dropout': 0.0, 'optimizer': 'sgd', 'lr': lr, 'momentum': momentum,
        'weight_decay': wd, 'nesterov': False, 'bn_momentum': 0.1,
        'loss': loss.item(), 'loss_after_step': after,
        'per_output_losses': [ce(resized(o), labels).item() for o in outs],
        'mmseg_loss': mmseg_loss,
    })
    print('unet training: loss %.6f, after the step %.6f; MMSeg convention (divide by all %d pixels, %d ignored) %.6f'
          % (loss.item(), after, labels.numel(), ignored, mmseg_loss))


def main():
    mm = load_openmmlab()
    mf.ROOT = HERE
    make_hourglass(mm)
    make_unet(mm)


if __name__ == '__main__':
    main()
