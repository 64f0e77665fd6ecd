#!/usr/bin/env python3
"""Golden fixtures for FCOS-HRNetV2p *training* in Tests/Fixtures/detection/training/, computed by
mmdetection's own code (run from the repository root):

    /work/venv-det/bin/python Tests/Fixtures/detection/training/make_fcos_training_fixtures.py

The venv is the one of ../make_detection_fixtures.py (its header says how to install it: torch, mmdet
3.3.0, mmengine 0.10.7, mmcv-lite 2.1.0, safetensors, ...). That script is imported as a module for its
`mmcv._ext` stand-in (mmcv-lite has no compiled ops; `install_ext_stand_in()` runs when it is imported,
before mmdet) and for its writers; its main() is not run, nothing of it is regenerated.

What it does (README.md beside this file lists every output with shapes):
1. Two synthetic BGR uint8 images (64x96 and 80x64, seeded) with ground-truth boxes (one crowd box,
   iscrowd -> ignore_flag 1) go through mmdet's PackDetInputs and mmengine's pseudo_collate, i.e.
   exactly what the train dataloader hands to the model after LoadImageFromFile/LoadAnnotations/
   Resize/RandomFlip (no resize and no flip here: scale_factor (1, 1), flip False).
2. The tiny FCOS model (../tiny_fcos_hrnet.py + ../tiny_fcos.pth) in train mode (model.train(): the
   HRNet's norm_eval=True default puts its BatchNorms in eval mode, GN in the head is unaffected)
   runs DetDataPreprocessor(training=True) and model.loss; the head outputs get retain_grad(), the
   total loss (BaseModel.parse_losses: the sum of the three losses) is back-propagated; recorded:
   losses, num_pos, centerness_denorm, the per-point targets in mmdet's flattened order, the head
   outputs and the gradients of the total loss w.r.t. them and w.r.t. a few parameters.
3. Two SGD steps with mmdet's own optimizer config for these models (optim_wrapper of the installed
   configs/hrnet/fcos_hrnetv2p-w18-gn-head_4xb4-1x_coco.py: SGD lr 0.01, momentum 0.9, weight decay
   1e-4, paramwise_cfg bias_lr_mult 2 / bias_decay_mult 0, clip_grad max_norm 35) built by mmengine's
   build_optim_wrapper, run by BaseModel.train_step (the Runner's training step) on the same batch,
   without a param scheduler (fixed lr: no warm-up). Recorded: the total loss of each step, the
   gradient norm before clipping, the param-group settings and the weights after each step.

Checks (the script fails otherwise): the first train_step's loss and pre-clip gradients equal the
analysis pass bit for bit; BN running stats and num_batches_tracked do not change; a second fresh run
of the analysis pass is bitwise identical; no point/box sits on a decision edge (inside test, regress
range bounds) and there is exactly the one intended equal-area tie; the gradient norms are not at 35.
Deterministic: torch runs on one CPU thread; re-running changes no bytes.
"""
import copy
import json
import os
import sys
from collections import OrderedDict

sys.dont_write_bytecode = True  # importing the sibling generator must not leave a __pycache__ in the repo
HERE = os.path.dirname(os.path.abspath(__file__))
DET = os.path.dirname(HERE)                                   # Tests/Fixtures/detection
REPO = os.path.dirname(os.path.dirname(os.path.dirname(DET)))
sys.path.insert(0, DET)
import make_detection_fixtures as mdf  # noqa: E402  (registers the mmcv._ext stand-in, imports mmdet)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
import mmcv  # noqa: E402
import mmdet  # noqa: E402
import mmengine  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.logging import MessageHub, MMLogger  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmdet.datasets.transforms import PackDetInputs  # noqa: E402
from mmdet.registry import MODELS  # noqa: E402
from mmdet.structures.bbox import HorizontalBoxes  # noqa: E402
from safetensors.numpy import save_file as save_safetensors  # noqa: E402

torch.set_num_threads(1)
MMLogger.get_current_instance().setLevel('WARNING')  # paramwise_options lines for every parameter
REL = os.path.relpath(HERE, REPO)
CONFIG = os.path.join(DET, 'tiny_fcos_hrnet.py')
CHECKPOINT = os.path.join(DET, 'tiny_fcos.pth')
OPTIM_CONFIG = os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'configs', 'hrnet',
                            'fcos_hrnetv2p-w18-gn-head_4xb4-1x_coco.py')
SEED = 20240607
CLIP_VARIANT = 10.0  # max_norm of the extra run in which clipping is active (the configs' 35 is not reached)
EDGE_MARGIN = 0.1  # pixels: |min(l,t,r,b)| and |max(l,t,r,b) - range bound| for every (point, box) pair

# Ground truth in the images' pixel coordinates, [x1, y1, x2, y2]; label 0..79; crowd -> ignore_flag 1.
# Coordinates have fractional parts .25/.5/.75, so no point (all at multiples of 4) is on a box edge and
# no distance equals a regress-range bound (64, 128, ...).
IMAGES = [
    dict(name='image0', height=64, width=96, instances=[
        dict(bbox=[10.25, 12.5, 30.75, 34.25], label=0, crowd=0, note='small, level 0; inside box 1 and 2 (smallest wins)'),
        dict(bbox=[4.5, 6.75, 44.25, 50.5], label=17, crowd=0, note='medium, overlaps box 0 (different size)'),
        dict(bbox=[2.25, 1.5, 93.75, 62.5], label=56, crowd=0, note='large: positives on levels 0 and 1'),
        dict(bbox=[56.5, 20.25, 90.75, 58.5], label=5, crowd=1, note='iscrowd: PackDetInputs moves it to '
             'ignored_instances; FCOS never looks at it: its points keep box 2 (label 56) or background, '
             'no label 5 anywhere, no ignore region'),
    ]),
    dict(name='image1', height=80, width=64, instances=[
        dict(bbox=[6.25, 18.5, 38.75, 50.25], label=3, crowd=0, note='32.5 x 31.75, equal area with box 1'),
        dict(bbox=[22.75, 34.5, 55.25, 66.25], label=0, crowd=0, note='32.5 x 31.75: equal-area tie with box 0 '
             'on the overlap; torch.min returns the first index, box 0 wins'),
    ]),
]
# Parameters whose gradient and updated values are recorded (one of every param-group kind).
PARAMS = [
    'bbox_head.conv_cls.weight',             # conv weight: lr 0.01, wd 1e-4
    'bbox_head.conv_cls.bias',               # conv bias: lr 0.02 (bias_lr_mult 2), wd 0
    'bbox_head.conv_reg.bias',
    'bbox_head.conv_centerness.weight',
    'bbox_head.conv_centerness.bias',
    'bbox_head.scales.0.scale',              # Scale (name 'scale', not 'bias'): lr 0.01, wd 1e-4
    'bbox_head.scales.1.scale',
    'bbox_head.cls_convs.0.gn.weight',       # GN weight: lr 0.01, wd 1e-4 (norm_decay_mult not set)
    'bbox_head.cls_convs.0.gn.bias',         # GN bias: lr 0.01 (norm bias: no bias_lr_mult), wd 0
    'neck.reduction_conv.conv.weight',
    'neck.reduction_conv.conv.bias',
    'backbone.conv1.weight',
    'backbone.bn1.weight',                   # BN weight (BN in eval mode, still trained)
    'backbone.bn1.bias',                     # BN bias: lr 0.01, wd 0
]


OUTPUTS = ['FACTS.md', 'README.md', 'batch_input.npy', 'fcos_training.json', 'gt.json', 'head_output_grads.safetensors',
           'head_outputs.safetensors', 'image0.npy', 'image1.npy', 'make_fcos_training_fixtures.py', 'manifest.json',
           'param_grads.safetensors', 'sgd_steps.safetensors', 'sgd_steps_clip10.safetensors', 'targets.safetensors']


def f32(x):
    return float(np.float32(x))


def make_images():
    """Seeded 'random-ish' BGR uint8 images: smooth colour ramps plus a few blobs plus noise."""
    g = np.random.default_rng(SEED)
    out = []
    for spec in IMAGES:
        h, w = spec['height'], spec['width']
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        img = np.zeros((h, w, 3))
        for c in range(3):
            a, b, p = g.uniform(-1.5, 1.5, 3)
            img[..., c] = 128 + 60 * np.sin(a * xx / w * np.pi + b * yy / h * np.pi + p * np.pi)
        for inst in spec['instances']:  # brighter/darker patches where the objects are
            x1, y1, x2, y2 = inst['bbox']
            m = (xx >= x1) & (xx < x2) & (yy >= y1) & (yy < y2)
            img[m] += g.uniform(-50, 50, 3)
        img += g.normal(0, 12, img.shape)
        out.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
    return out


def pack_batch(images):
    """The train dataloader's output for the two images: PackDetInputs (mmdet) + pseudo_collate."""
    pack = PackDetInputs()  # default meta_keys: img_id, img_path, ori_shape, img_shape, scale_factor, flip, flip_direction
    items = []
    for i, (spec, img) in enumerate(zip(IMAGES, images)):
        boxes = np.array([inst['bbox'] for inst in spec['instances']], np.float32).reshape(-1, 4)
        results = dict(
            img=img, img_id=i, img_path='synthetic/%s.png' % spec['name'],
            ori_shape=img.shape[:2], img_shape=img.shape[:2], scale_factor=(1.0, 1.0),
            flip=False, flip_direction=None,
            gt_bboxes=HorizontalBoxes(boxes),  # what LoadAnnotations(box_type='hbox') makes
            gt_bboxes_labels=np.array([inst['label'] for inst in spec['instances']], np.int64),
            gt_ignore_flags=np.array([inst['crowd'] for inst in spec['instances']], bool))
        items.append(pack(results))
    return pseudo_collate(items)


def build_model():
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None  # weights come from the checkpoint
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    ckpt = torch.load(CHECKPOINT, map_location='cpu', weights_only=False)
    res = model.load_state_dict(ckpt['state_dict'], strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    model.train()  # as the Runner does; HRNet.train applies norm_eval
    return model


class Recorder:
    """Wraps the head's target functions and forward to keep what loss_by_feat used."""

    def __init__(self, head):
        self.head = head
        self.targets = None
        self.centerness = None
        self.outputs = None
        orig_get_targets = head.get_targets
        orig_centerness = head.centerness_target

        def get_targets(points, batch_gt_instances):
            labels, bbox_targets = orig_get_targets(points, batch_gt_instances)
            self.targets = ([p.clone() for p in points], [t.clone() for t in labels],
                            [t.clone() for t in bbox_targets])
            return labels, bbox_targets

        def centerness_target(pos_bbox_targets):
            c = orig_centerness(pos_bbox_targets)
            self.centerness = c.detach().clone()
            return c
        head.get_targets = get_targets
        head.centerness_target = centerness_target

        def hook(module, args, output):
            for level_list in output:
                for t in level_list:
                    t.retain_grad()
            self.outputs = output
        self.handle = head.register_forward_hook(hook)


FOCAL_CALLS = OrderedDict()


def spy_focal_loss():
    """Counts which focal-loss function FocalLoss.forward calls (module globals of mmdet's focal_loss.py)."""
    import mmdet.models.losses.focal_loss as fl
    for name in ('py_sigmoid_focal_loss', 'sigmoid_focal_loss', 'py_focal_loss_with_prob'):
        orig = getattr(fl, name)
        FOCAL_CALLS[name] = 0

        def f(*a, __orig=orig, __name=name, **k):
            FOCAL_CALLS[__name] += 1
            return __orig(*a, **k)
        setattr(fl, name, f)


def analysis_pass(data):
    """model.loss on the preprocessed batch, backward of the total loss; returns everything recorded."""
    model = build_model()
    rec = Recorder(model.bbox_head)
    pre = model.data_preprocessor(copy.deepcopy(data), True)
    inputs, samples = pre['inputs'], pre['data_samples']
    losses = model(inputs, samples, mode='loss')
    total, log_vars = model.parse_losses(losses)
    total.backward()
    rec.handle.remove()
    params = dict(model.named_parameters())
    out = OrderedDict()
    out['inputs'] = inputs.detach().clone()
    out['samples'] = samples
    out['losses'] = OrderedDict((k, v.detach().clone()) for k, v in losses.items())
    out['total'] = total.detach().clone()
    out['outputs'] = [[t.detach().clone() for t in lst] for lst in rec.outputs]
    out['output_grads'] = [[t.grad.detach().clone() for t in lst] for lst in rec.outputs]
    out['targets'] = rec.targets
    out['centerness_targets'] = rec.centerness
    out['param_grads'] = OrderedDict((n, params[n].grad.detach().clone()) for n in PARAMS)
    out['all_grads'] = OrderedDict((n, p.grad.detach().clone()) for n, p in model.named_parameters()
                                   if p.grad is not None)
    out['model'] = model
    return out


def check_edges(points_per_level, regress_ranges):
    """Every (point, non-crowd box) pair keeps EDGE_MARGIN px from the inside test and the range bounds;
    returns the smallest margins and the equal-area ties among candidate boxes."""
    worst_inside, worst_range, ties = np.inf, np.inf, []
    for img_idx, spec in enumerate(IMAGES):
        boxes = np.array([i['bbox'] for i in spec['instances'] if not i['crowd']], np.float32)
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        for lvl, pts in enumerate(points_per_level):
            p = pts.numpy()
            lo, hi = regress_ranges[lvl]
            l = p[:, None, 0] - boxes[None, :, 0]
            t = p[:, None, 1] - boxes[None, :, 1]
            r = boxes[None, :, 2] - p[:, None, 0]
            b = boxes[None, :, 3] - p[:, None, 1]
            d = np.stack([l, t, r, b], -1)
            mn, mx = d.min(-1), d.max(-1)
            worst_inside = min(worst_inside, float(np.abs(mn).min()))
            inside = mn > 0
            if inside.any():
                for bound in (lo, hi):
                    worst_range = min(worst_range, float(np.abs(mx[inside] - bound).min()))
            cand = inside & (mx >= lo) & (mx <= hi)
            for k in np.nonzero(cand.sum(1) > 1)[0]:
                a = areas[cand[k]]
                if (a == a.min()).sum() > 1:
                    ties.append(dict(image=img_idx, level=lvl, point=[float(v) for v in p[k]],
                                     boxes=[int(j) for j in np.nonzero(cand[k])[0]]))
    assert worst_inside > EDGE_MARGIN, worst_inside
    assert worst_range > EDGE_MARGIN, worst_range
    return worst_inside, worst_range, ties


def run_sgd(data, optim_cfg, num_steps=2):
    """A fresh model, mmengine's build_optim_wrapper(optim_cfg), num_steps BaseModel.train_step calls on
    `data`. Returns per-step records, the param groups by name, the pre-clip gradients of each step."""
    train_model = build_model()
    optim_wrapper = build_optim_wrapper(train_model, copy.deepcopy(optim_cfg))
    named = dict(train_model.named_parameters())
    name_of = {id(p): n for n, p in train_model.named_parameters()}
    groups = OrderedDict()
    for g in optim_wrapper.optimizer.param_groups:
        assert len(g['params']) == 1
        groups[name_of[id(g['params'][0])]] = g
    group_kinds = OrderedDict()
    for n, g in groups.items():
        group_kinds.setdefault('lr %g, weight_decay %g' % (g['lr'], g['weight_decay']), []).append(n)
    bn_state = {k: v.clone() for k, v in train_model.state_dict().items()
                if 'running_' in k or 'num_batches_tracked' in k}
    pre_clip = []
    orig_step = optim_wrapper.step

    def step(**kw):  # keeps the gradients before clipping, then the OptimWrapper's own step (clip + SGD)
        pre_clip.append(OrderedDict((n, p.grad.detach().clone()) for n, p in train_model.named_parameters()
                                    if p.grad is not None))
        orig_step(**kw)
        pre_clip[-1]['__grad_norm__'] = MessageHub.get_current_instance().get_scalar('train/grad_norm').current()
    optim_wrapper.step = step
    steps = []
    for _ in range(num_steps):
        log_vars = train_model.train_step(copy.deepcopy(data), optim_wrapper)
        steps.append(dict(loss=float(log_vars['loss']),
                          loss_cls=float(log_vars['loss_cls']), loss_bbox=float(log_vars['loss_bbox']),
                          loss_centerness=float(log_vars['loss_centerness']),
                          grad_norm=float(pre_clip[-1]['__grad_norm__']),
                          weights=OrderedDict((n, named[n].detach().clone()) for n in PARAMS)))
    return steps, groups, group_kinds, pre_clip, train_model, bn_state


def to_np(t):
    return np.require(t.detach().cpu().numpy(), requirements='C')  # keeps 0-d arrays 0-d


def main():
    os.chdir(REPO)
    os.makedirs(HERE, exist_ok=True)
    versions = OrderedDict(mmdet=mmdet.__version__, mmengine=mmengine.__version__, mmcv_lite=mmcv.__version__,
                           torch=torch.__version__.split('+')[0],
                           torchvision=torchvision.__version__.split('+')[0], numpy=np.__version__,
                           opencv=cv2.__version__, python='%d.%d.%d' % sys.version_info[:3])
    print(', '.join('%s %s' % kv for kv in versions.items()))

    images = make_images()
    data = pack_batch(images)
    spy_focal_loss()
    run = analysis_pass(data)
    assert dict(FOCAL_CALLS) == dict(py_sigmoid_focal_loss=1, sigmoid_focal_loss=0, py_focal_loss_with_prob=0), FOCAL_CALLS
    # the batch: normalized (BGR kept), zero padding bottom/right after normalization
    mean = torch.tensor([103.53, 116.28, 123.675]).view(3, 1, 1)
    std = torch.tensor([57.375, 57.12, 58.395]).view(3, 1, 1)
    for i, img in enumerate(images):
        h, w = img.shape[:2]
        ref = (torch.from_numpy(img).permute(2, 0, 1).float() - mean) / std
        assert torch.equal(run['inputs'][i, :, :h, :w], ref)
        assert not run['inputs'][i, :, h:, :].any() and not run['inputs'][i, :, :, w:].any()
    model = run['model']
    head = model.bbox_head
    assert not model.backbone.bn1.training and head.cls_convs[0].gn.training, 'norm_eval not as expected'

    # ---- determinism: a second fresh model and pass gives identical bits
    run2 = analysis_pass(data)
    assert torch.equal(run['total'], run2['total'])
    for a, b in zip(run['all_grads'].values(), run2['all_grads'].values()):
        assert torch.equal(a, b)
    for la, lb in zip(run['output_grads'], run2['output_grads']):
        for a, b in zip(la, lb):
            assert torch.equal(a, b)
    del run2

    # ---- targets in the flattened order, checks
    points, labels, bbox_targets = run['targets']
    num_imgs = len(IMAGES)
    flat_points = torch.cat([p.repeat(num_imgs, 1) for p in points])
    flat_labels = torch.cat(labels)
    flat_bbox_targets = torch.cat(bbox_targets)
    pos = ((flat_labels >= 0) & (flat_labels < head.num_classes)).nonzero().reshape(-1)
    assert torch.equal(head.centerness_target(flat_bbox_targets[pos]), run['centerness_targets'])
    worst_inside, worst_range, ties = check_edges(points, head.regress_ranges)
    assert len(ties) > 0 and all(t['image'] == 1 for t in ties), ties
    featmap_sizes = [list(t.shape[-2:]) for t in run['outputs'][0]]
    level_sizes = [h * w for h, w in featmap_sizes]
    offsets = np.cumsum([0] + [num_imgs * s for s in level_sizes]).tolist()
    pos_np = pos.numpy()
    level_of = np.searchsorted(np.array(offsets[1:]), pos_np, side='right')
    img_of = (pos_np - np.array(offsets)[level_of]) // np.array(level_sizes)[level_of]
    pos_per_level = [[int(((level_of == l) & (img_of == i)).sum()) for i in range(num_imgs)]
                     for l in range(len(points))]
    crowd_box = IMAGES[0]['instances'][3]['bbox']
    assert not (flat_labels == IMAGES[0]['instances'][3]['label']).any()
    in_crowd = []  # flat indices of image-0 points strictly inside the crowd box, and their labels
    for lvl, pts in enumerate(points):
        x, y = pts[:, 0], pts[:, 1]
        m = (x > crowd_box[0]) & (x < crowd_box[2]) & (y > crowd_box[1]) & (y < crowd_box[3])
        for k in m.nonzero().reshape(-1).tolist():
            idx = offsets[lvl] + k  # image 0
            in_crowd.append((lvl, int(idx), int(flat_labels[idx])))
    assert any(lab == 56 for _, _, lab in in_crowd)
    # the tie points took the first box (label 3)
    for t in ties:
        lvl = t['level']
        k = [tuple(p) for p in points[lvl].tolist()].index(tuple(t['point']))
        idx = offsets[lvl] + t['image'] * level_sizes[lvl] + k
        t['label'] = int(flat_labels[idx])
        t['flat_index'] = int(idx)
        assert t['label'] == IMAGES[1]['instances'][t['boxes'][0]]['label']

    # centre sampling (center_sample_radius 1.5) on the same gt: targets only, for reference
    gt_instances = [s.gt_instances for s in run['samples']]
    head.center_sampling = True
    cs_labels, cs_targets = head.get_targets(points, gt_instances)
    head.center_sampling = False
    cs_labels, cs_targets = torch.cat(cs_labels), torch.cat(cs_targets)

    # ---- the two SGD steps, mmdet's optimizer config and mmengine's train_step
    optim_cfg = Config.fromfile(OPTIM_CONFIG).optim_wrapper
    steps, groups, group_kinds, pre_clip, train_model, bn_state = run_sgd(data, optim_cfg)
    # variant: the same with clip_grad max_norm CLIP_VARIANT, so that clipping actually scales step 1
    clip_cfg = copy.deepcopy(optim_cfg)
    clip_cfg.clip_grad.max_norm = CLIP_VARIANT
    csteps = run_sgd(data, clip_cfg)[0]
    assert csteps[0]['loss'] == steps[0]['loss'] and csteps[0]['grad_norm'] == steps[0]['grad_norm']
    assert csteps[0]['grad_norm'] > CLIP_VARIANT
    for s in csteps:
        assert abs(s['grad_norm'] - CLIP_VARIANT) > 0.05, s['grad_norm']
    # step 1 is the analysis pass
    assert steps[0]['loss'] == float(run['total']), (steps[0]['loss'], float(run['total']))
    assert set(pre_clip[0]) - {'__grad_norm__'} == set(run['all_grads'])
    for n, g in run['all_grads'].items():
        assert torch.equal(pre_clip[0][n], g), n
    for k, v in train_model.state_dict().items():
        if k in bn_state:
            assert torch.equal(v, bn_state[k]), k
    for s in steps:
        assert abs(s['grad_norm'] - 35.0) > 0.05, s['grad_norm']
    # every parameter requires grad and gets one (no frozen stage in HRNet; BN affine trained)
    assert all(p.requires_grad for p in train_model.parameters())
    assert len(run['all_grads']) == len(list(train_model.parameters()))

    # ---- write
    def write(name, arrays):  # as mdf.write_safetensors, but a 0-d tensor (Scale) keeps shape [] as in the state dict
        path = os.path.join(HERE, name)
        save_safetensors(OrderedDict((k, np.require(v, requirements='C')) for k, v in sorted(arrays.items())), path)
        os.chmod(path, 0o644)
    for spec, img in zip(IMAGES, images):
        np.save(os.path.join(HERE, '%s.npy' % spec['name']), img)
    mdf.save_npy(os.path.join(HERE, 'batch_input.npy'), to_np(run['inputs']))

    outs = OrderedDict()
    grads = OrderedDict()
    for kind, lst, glst in zip(('cls_scores', 'bbox_preds', 'centernesses'), run['outputs'], run['output_grads']):
        for l, (t, g) in enumerate(zip(lst, glst)):
            outs['%s.%d' % (kind, l)] = to_np(t)
            grads['%s.%d' % (kind, l)] = to_np(g)
    write('head_outputs.safetensors', outs)
    write('head_output_grads.safetensors', grads)

    write('targets.safetensors', OrderedDict([
        ('points', to_np(flat_points)),
        ('labels', to_np(flat_labels).astype(np.int64)),
        ('bbox_targets', to_np(flat_bbox_targets)),
        ('pos_inds', pos_np.astype(np.int64)),
        ('pos_centerness_targets', to_np(run['centerness_targets'])),
        ('center_sampling.labels', to_np(cs_labels).astype(np.int64)),
        ('center_sampling.bbox_targets', to_np(cs_targets)),
    ]))
    write('param_grads.safetensors', OrderedDict((n, to_np(g)) for n, g in run['param_grads'].items()))
    sgd = OrderedDict()
    for i, s in enumerate(steps):
        for n, w in s['weights'].items():
            sgd['step%d.%s' % (i + 1, n)] = to_np(w)
    write('sgd_steps.safetensors', sgd)
    sgd = OrderedDict()
    for i, s in enumerate(csteps):
        for n, w in s['weights'].items():
            if n != 'bbox_head.conv_cls.weight':  # size
                sgd['step%d.%s' % (i + 1, n)] = to_np(w)
    write('sgd_steps_clip10.safetensors', sgd)

    losses = run['losses']
    num_pos = int(len(pos))
    centerness_denorm = max(float(run['centerness_targets'].sum()), 1e-6)
    gt_json = OrderedDict()
    gt_json['images'] = []
    for spec, s in zip(IMAGES, run['samples']):
        gt_json['images'].append(OrderedDict(
            file='%s.npy' % spec['name'], height=spec['height'], width=spec['width'],
            img_shape=list(s.img_shape), pad_shape=list(s.pad_shape), batch_input_shape=list(s.batch_input_shape),
            scale_factor=list(s.scale_factor), flip=s.flip,
            instances=[OrderedDict(bbox=i['bbox'], label=i['label'], iscrowd=i['crowd'], note=i['note'])
                       for i in spec['instances']],
            gt_instances=OrderedDict(bboxes=to_np(s.gt_instances.bboxes).tolist(),
                                     labels=to_np(s.gt_instances.labels).tolist()),
            ignored_instances=OrderedDict(bboxes=to_np(s.ignored_instances.bboxes).tolist(),
                                          labels=to_np(s.ignored_instances.labels).tolist())))
    mdf.write_json(os.path.join(HERE, 'gt.json'), gt_json)

    result = OrderedDict()
    result['losses'] = OrderedDict((k, float(v)) for k, v in losses.items())
    result['total_loss'] = float(run['total'])
    result['num_pos'] = num_pos
    result['num_pos_avg_factor'] = max(float(num_pos), 1.0)
    result['centerness_denorm'] = f32(centerness_denorm)
    result['positives_per_level_per_image'] = pos_per_level
    result['num_points'] = int(flat_labels.numel())
    result['featmap_sizes'] = featmap_sizes
    result['strides'] = list(head.strides)
    result['regress_ranges'] = [list(map(float, r)) for r in head.regress_ranges]
    result['level_offsets'] = offsets
    result['flat_index'] = ('offsets[l] + img * H_l * W_l + y * W_l + x  (level-major, then image, then row, '
                            'then column)')
    result['equal_area_ties'] = ties
    result['crowd_box_ignored'] = OrderedDict(
        image=0, bbox=crowd_box, label=5, label_5_anywhere=False,
        points_inside=[OrderedDict(level=l, flat_index=i, label=lab) for l, i, lab in in_crowd],
        note='labels of the points inside the crowd box come from box 2 (56) or are background (80)')
    result['edge_margins_px'] = OrderedDict(inside_test=worst_inside, regress_range=worst_range)
    result['center_sampling_num_pos'] = int(((cs_labels >= 0) & (cs_labels < head.num_classes)).sum())
    result['sgd'] = OrderedDict(
        config=OrderedDict((k, v) for k, v in optim_cfg.to_dict().items()),
        config_file='mmdet/.mim/configs/hrnet/fcos_hrnetv2p-w18-gn-head_4xb4-1x_coco.py',
        scheduler='none (fixed lr; the real run has ConstantLR/LinearLR warm-up, see FACTS.md)',
        steps=[OrderedDict((k, v) for k, v in s.items() if k != 'weights') for s in steps],
        clipped=[s['grad_norm'] > 35.0 for s in steps],
        clip_variant=OrderedDict(
            max_norm=CLIP_VARIANT,
            steps=[OrderedDict((k, v) for k, v in s.items() if k != 'weights') for s in csteps],
            clipped=[s['grad_norm'] > CLIP_VARIANT for s in csteps],
            clip_coef=[float(torch.clamp(torch.tensor(CLIP_VARIANT) / (torch.tensor(s['grad_norm']) + 1e-6), max=1.0))
                       for s in csteps],  # float32, as clip_grad_norm_ computes it
            note='torch.nn.utils.clip_grad_norm_: grads *= min(max_norm / (total_norm + 1e-6), 1) over every '
                 'parameter with a gradient; weights in sgd_steps_clip10.safetensors (all PARAMS but '
                 'bbox_head.conv_cls.weight)'),
        param_groups=OrderedDict((n, OrderedDict(lr=groups[n]['lr'], weight_decay=groups[n]['weight_decay'],
                                                 momentum=groups[n]['momentum'], dampening=groups[n]['dampening'],
                                                 nesterov=groups[n]['nesterov']))
                                 for n in PARAMS),
        group_kinds=OrderedDict((k, len(v)) for k, v in group_kinds.items()),
        group_members=group_kinds)
    mdf.write_json(os.path.join(HERE, 'fcos_training.json'), result)

    manifest = OrderedDict(
        versions=versions,
        generator=os.path.join(REL, os.path.basename(__file__)),
        config=os.path.relpath(CONFIG, REPO), checkpoint=os.path.relpath(CHECKPOINT, REPO),
        optimizer_config='mmdet/.mim/configs/hrnet/fcos_hrnetv2p-w18-gn-head_4xb4-1x_coco.py (installed wheel)',
        seed=SEED, torch_threads=torch.get_num_threads(), device='cpu',
        focal_loss_impl='mmdet.models.losses.focal_loss.py_sigmoid_focal_loss (CPU path)',
        norm_eval=OrderedDict(backbone_bn_training=False, head_gn_training=True),
        files=OUTPUTS)
    mdf.write_json(os.path.join(HERE, 'manifest.json'), manifest)
    print('losses %s total %r num_pos %d centerness_denorm %r' % (
        dict(result['losses']), result['total_loss'], num_pos, result['centerness_denorm']))
    print('positives per level per image', pos_per_level, 'ties', len(ties))
    print('steps', [(s['loss'], s['grad_norm']) for s in steps])
    print('edge margins', worst_inside, worst_range)
    print('done')


if __name__ == '__main__':
    main()
