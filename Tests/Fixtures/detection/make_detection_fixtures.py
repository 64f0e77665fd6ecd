#!/usr/bin/env python3
"""Generates the object-detection golden fixtures in Tests/Fixtures/detection/ from mmdetection's own
code (run from the repository root):

    python3 -m venv /work/venv-det
    /work/venv-det/bin/pip install torch torchvision numpy       # plain PyPI (CUDA wheels; run on the CPU)
    /work/venv-det/bin/pip install --no-deps mmdet==3.3.0 mmengine==0.10.7 mmcv-lite==2.1.0
    /work/venv-det/bin/pip install addict yapf termcolor rich matplotlib shapely terminaltables six \\
        pycocotools scipy opencv-python-headless pyyaml tqdm safetensors
    /work/venv-det/bin/python Tests/Fixtures/detection/make_detection_fixtures.py

(Made with torch 2.15.0, torchvision 0.29.2, numpy 2.4, opencv-python-headless 5.1, Python 3.11; the
versions used are written to manifest.json. No patch to mmengine 0.10.7 was needed for that torch.)

mmcv-lite has no compiled `mmcv._ext`. Before mmdet is imported this script registers a stand-in module
`mmcv._ext` (sys.modules) with:
- `nms(boxes, scores, iou_threshold, offset)` -> torchvision.ops.nms (offset must be 0). Every call is
  also run through a NumPy port of mmcv's CPU kernel (mmcv/ops/csrc/pytorch/cpu/nms.cpp: float32
  areas, `scores.sort(0, descending)`, suppress when inter / (a_i + a_j - inter) > float32(thr)) and
  the two must keep the same indices in the same order; the port also records every IoU comparison
  the kernel executes, for the knife-edge check below.
- `roi_align_forward(input, rois, output, argmax_y, argmax_x, aligned_height, aligned_width,
  spatial_scale, sampling_ratio, pool_mode, aligned)` -> torchvision.ops.roi_align(aligned=True,
  sampling_ratio=0) written into `output` (avg mode only; like mmcv it refuses an RoI with x2 < x1 or
  y2 < y1). When a C++ compiler is present, mmcv's own CPU kernel (ROIAlignForward and its bilinear
  precalculation, cut out of the installed mmcv-lite's csrc/pytorch/cpu/roi_align.cpp and compiled
  with g++ -O2 -ffp-contract=off) is run on every call too and must agree bit for bit.
- every other name mmcv.ops asks for: a function that raises NotImplementedError.

What it writes (README.md beside this file lists every file with shapes):
- tiny configs in mmdet 3.x Python format (a base file and an HRNet child with `_delete_=True`, as
  mmdet's configs/hrnet/ files are): FCOS-HRNetV2p and Faster R-CNN-HRNetV2p, tiny widths;
- random-weight checkpoints in the mmdet zoo layout ({'meta': {...}, 'state_dict': ...}; zip, legacy,
  state-dict-only) and their key lists;
- for each model and each of three photos (Tests/Fixtures/imaging/person.jpg,
  Tests/Fixtures/segmentation/photo.png, and odd_97x61.png made here): the network input after
  DetDataPreprocessor (.npy), backbone / neck / head outputs (.safetensors), and the final
  detections of mmdet.apis.inference_detector plus their COCO results-JSON form (.json);
- ops.safetensors + ops.json: GroupNorm, RoIAlign and batched-NMS references.

Knife edges: the weights are random, so the script checks that no decision of the pipeline sits on a
threshold (scores vs score_thr, IoU vs the NMS threshold for every comparison the NMS executes, exact
score ties among NMS inputs, the nms_pre and max_per_img cuts, zero-size boxes at the clamp, the RoI
level boundaries and the RoIAlign sampling grid); if any check fails it moves to the next seed
(deterministically) and tries again. The margins are listed in MARGINS and printed.

Everything is seeded. Re-running in place changes no bytes: a legacy .pth that already loads to the
same object is kept (the legacy format names storages by memory address), as make_fixtures.py does.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import types
import warnings
from collections import OrderedDict

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from safetensors.numpy import save_file as save_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
REL = os.path.relpath(HERE, REPO)  # Tests/Fixtures/detection

torch.set_num_threads(1)  # modest CPU use, and one summation order
warnings.filterwarnings('ignore')

# ================================================================ the mmcv._ext stand-in
NMS_LOG = None        # list of dicts while a run is recorded
ROI_LOG = None
MMCV_ROI_ALIGN = None  # ctypes function of mmcv's compiled CPU kernel, when a compiler is available


def mmcv_nms_port(boxes, scores, iou_threshold, record=None):
    """mmcv/ops/csrc/pytorch/cpu/nms.cpp (offset 0) in float32 NumPy. `record` gets the IoUs of every
    comparison the kernel executes (box i kept so far vs each later box still selected)."""
    b = boxes.detach().cpu().numpy().astype(np.float32)
    x1, y1, x2, y2 = (np.ascontiguousarray(b[:, k]) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    order = torch.sort(scores, 0, descending=True)[1].numpy()  # the same call as the kernel
    n = len(order)
    select = np.ones(n, bool)
    thr = np.float32(iou_threshold)
    zero = np.float32(0)
    for _i in range(n):
        if not select[_i]:
            continue
        i = order[_i]
        rest = np.nonzero(select[_i + 1:])[0] + _i + 1
        if len(rest) == 0:
            continue
        j = order[rest]
        w = np.maximum(zero, np.minimum(x2[i], x2[j]) - np.maximum(x1[i], x1[j]))
        h = np.maximum(zero, np.minimum(y2[i], y2[j]) - np.maximum(y1[i], y1[j]))
        inter = w * h
        with np.errstate(invalid='ignore', divide='ignore'):
            ovr = inter / (areas[i] + areas[j] - inter)
        if record is not None:
            record.append(ovr)
        select[rest[ovr > thr]] = False
    return order[select]


def _ext_nms(boxes, scores, iou_threshold, offset):
    assert offset == 0, 'the stand-in supports offset 0 only (mmdet uses 0)'
    keep = torchvision.ops.nms(boxes, scores, float(iou_threshold))
    comparisons = []
    port = mmcv_nms_port(boxes, scores, iou_threshold, comparisons)
    agree = bool(np.array_equal(port, keep.numpy()))
    # They can differ only where tied scores meet an overlap. Outside the recorded runs (calibration and
    # tuning of a candidate model) torchvision's answer is used; in a recorded run a disagreement fails
    # that seed's checks.
    if NMS_LOG is not None:
        NMS_LOG.append(dict(scores=scores.detach().clone(), thr=float(iou_threshold), keep=keep.clone(), agree=agree,
                            ious=np.concatenate(comparisons) if comparisons else np.zeros(0, np.float32)))
    return keep


def _ext_roi_align_forward(input, rois, output, argmax_y, argmax_x, aligned_height, aligned_width,
                           spatial_scale, sampling_ratio, pool_mode, aligned):
    assert pool_mode == 1 and aligned, 'the stand-in does avg pooling with aligned=True only'
    r = rois.detach()
    s = np.float32(spatial_scale)
    half = np.float32(0.5)
    rn = r.numpy()
    w = (rn[:, 3] * s - half) - (rn[:, 1] * s - half)
    h = (rn[:, 4] * s - half) - (rn[:, 2] * s - half)
    if (w < 0).any() or (h < 0).any():  # mmcv's AT_ASSERTM for aligned=True
        raise RuntimeError('ROIs in ROIAlign cannot have non-negative size!')
    out = torchvision.ops.roi_align(input, r, (aligned_height, aligned_width), float(spatial_scale),
                                    int(sampling_ratio), True)
    if MMCV_ROI_ALIGN is not None:
        ref = run_mmcv_roi_align(input, r, aligned_height, aligned_width, spatial_scale, sampling_ratio)
        if not np.array_equal(ref, out.numpy()):
            raise AssertionError('torchvision.ops.roi_align and mmcv\'s CPU kernel disagree (max diff %g)'
                                 % np.abs(ref - out.numpy()).max())
    if ROI_LOG is not None:
        ROI_LOG.append(dict(rois=r.clone(), scale=float(spatial_scale), height=input.shape[2],
                            width=input.shape[3]))
    output.copy_(out)


def install_ext_stand_in():
    import importlib.machinery
    ext = types.ModuleType('mmcv._ext')
    ext.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)  # mmengine's mmcv_full_available looks
    ext.__doc__ = 'stand-in for mmcv-lite: nms and roi_align_forward on torchvision (make_detection_fixtures.py)'
    ext.nms = _ext_nms
    ext.roi_align_forward = _ext_roi_align_forward

    def missing(name):
        if name.startswith('__'):
            raise AttributeError(name)

        def f(*args, **kwargs):
            raise NotImplementedError('mmcv._ext.%s is not in the stand-in' % name)
        return f
    ext.__getattr__ = missing
    sys.modules['mmcv._ext'] = ext


def compile_mmcv_roi_align():
    """mmcv's CPU RoIAlign kernel, cut out of the installed package's source and compiled, or None."""
    global MMCV_ROI_ALIGN
    import ctypes
    import mmcv
    path = os.path.join(os.path.dirname(mmcv.__file__), 'ops', 'csrc', 'pytorch', 'cpu', 'roi_align.cpp')
    compiler = shutil.which('g++') or shutil.which('c++') or shutil.which('clang++')
    if not os.path.exists(path) or compiler is None:
        print('  mmcv RoIAlign kernel: not compiled (no source or no compiler); torchvision only')
        return None
    src = open(path).read()
    body = src[src.index('template <typename T>\nstruct PreCalc'):
               src.index('template <typename T>\nvoid bilinear_interpolate_gradient')]
    code = ('#include <vector>\n#include <algorithm>\n#include <cmath>\n#include <stdexcept>\n'
            '#define AT_ASSERTM(c, m) do { if (!(c)) throw std::runtime_error(m); } while (0)\n'
            + body +
            'extern "C" int mmcv_roi_align_avg(const float* input, const float* rois, float* output,\n'
            '    int n_rois, int channels, int height, int width, int ph, int pw, float scale, int ratio) {\n'
            '  try { ROIAlignForward<float>(n_rois * channels * ph * pw, input, rois, output, nullptr, nullptr,\n'
            '        ph, pw, scale, ratio, 1, true, channels, height, width); return 0; }\n'
            '  catch (...) { return 1; }\n}\n')
    tmp = tempfile.mkdtemp()
    cpp, lib = os.path.join(tmp, 'roi_align.cpp'), os.path.join(tmp, 'libroialign.so')
    open(cpp, 'w').write(code)
    subprocess.check_call([compiler, '-O2', '-ffp-contract=off', '-shared', '-fPIC', cpp, '-o', lib])
    f = ctypes.CDLL(lib).mmcv_roi_align_avg
    f.restype = ctypes.c_int
    MMCV_ROI_ALIGN = f
    print('  mmcv RoIAlign kernel: compiled from %s with %s' % (os.path.relpath(path, os.path.dirname(mmcv.__file__)),
                                                              os.path.basename(compiler)))
    return f


def run_mmcv_roi_align(input, rois, ph, pw, spatial_scale, sampling_ratio):
    import ctypes
    x = np.ascontiguousarray(input.detach().numpy(), np.float32)
    r = np.ascontiguousarray(rois.detach().numpy(), np.float32)
    out = np.zeros((r.shape[0], x.shape[1], ph, pw), np.float32)
    p = lambda a: a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    rc = MMCV_ROI_ALIGN(p(x), p(r), p(out), r.shape[0], x.shape[1], x.shape[2], x.shape[3], ph, pw,
                        ctypes.c_float(spatial_scale), sampling_ratio)
    if rc != 0:
        raise RuntimeError('mmcv kernel refused the RoIs')
    return out


install_ext_stand_in()
import mmcv  # noqa: E402
import mmdet  # noqa: E402
import mmengine  # noqa: E402
from mmcv.transforms import Compose  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmdet.apis import inference_detector, init_detector  # noqa: E402
from mmdet.datasets import CocoDataset  # noqa: E402
from mmdet.evaluation.metrics import CocoMetric  # noqa: E402
from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder, DistancePointBBoxCoder  # noqa: E402
from mmdet.registry import MODELS  # noqa: E402
from mmdet.utils import get_test_pipeline_cfg  # noqa: E402

COCO_CLASSES = tuple(CocoDataset.METAINFO['classes'])
# COCO category ids of the 80 classes (1..90 with gaps), in label order: instances_val2017.json's
# categories, which CocoMetric reads as cat_ids.
COCO_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
            31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
            56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84,
            85, 86, 87, 88, 89, 90]
assert len(COCO_CLASSES) == 80 and len(COCO_IDS) == 80

PHOTOS = OrderedDict([
    ('person', 'Tests/Fixtures/imaging/person.jpg'),      # 320x240 JPEG
    ('photo', 'Tests/Fixtures/segmentation/photo.png'),   # 80x48 PNG
    ('odd', REL + '/odd_97x61.png'),                      # 97x61 PNG, made here
])

# Knife-edge margins (see check_knife_edges). Relative unless said otherwise.
MARGINS = dict(
    score_thr=1e-3,    # |score - score_thr| / score_thr for every (position, class) score the threshold sees
    nms_iou=1e-3,      # |IoU - thr| / thr for every IoU comparison the NMS kernel executes
    rpn_nms_iou=1e-4,  # the same for the RPN's NMS (~2000 boxes of overlapping anchors; see README)
    cut=1e-4,          # (s[k-1] - s[k]) / s[k-1] at a top-k cut (nms_pre, max_per_img)
    zero_box=1e-3,     # pixels: clamped w/h is 0 or > this; for 0 the raw corners are beyond the edge by this
    roi_level=1e-4,    # log2 units: log2(sqrt(wh) / finest_scale + 1e-6) away from the level boundaries 1, 2, 3
    roi_grid=1e-4,     # RoI size / 7 (feature pixels) away from an integer (the sampling-grid count)
    roi_sample=1e-4,   # feature pixels: sample coordinates away from -1 and H (W), where they become 0
)


# ================================================================ configs (written as files)
HRNET_EXTRA = '''dict(
            stage1=dict(
                num_modules=1,
                num_branches=1,
                block='BOTTLENECK',
                num_blocks=(1, ),
                num_channels=(8, )),
            stage2=dict(
                num_modules=1,
                num_branches=2,
                block='BASIC',
                num_blocks=(1, 1),
                num_channels=(4, 8)),
            stage3=dict(
                num_modules=2,
                num_branches=3,
                block='BASIC',
                num_blocks=(1, 1, 1),
                num_channels=(4, 8, 16)),
            stage4=dict(
                num_modules=1,
                num_branches=4,
                block='BASIC',
                num_blocks=(1, 1, 1, 1),
                num_channels=(4, 8, 16, 32)))'''

DATA_PART = '''
# dataset settings (test only; `img_scale` is small so the tiny network stays tiny)
dataset_type = 'CocoDataset'
data_root = 'data/coco/'
backend_args = None
img_scale = %s
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator

default_scope = 'mmdet'
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
log_level = 'INFO'
load_from = None
resume = False
'''

FCOS_BASE = '''# Tiny FCOS base for the hrnet-swift detection fixtures (written by make_detection_fixtures.py).
# Laid out as mmdet 3.3.0's configs/fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py: the ResNet backbone,
# FPN neck and caffe mean/std here are replaced by tiny_fcos_hrnet.py, as configs/hrnet/ does.
model = dict(
    type='FCOS',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[102.9801, 115.9465, 122.7717],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='caffe',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron/resnet50_caffe')),
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=32,
        start_level=1,
        add_extra_convs='on_output',  # use P5
        num_outs=5,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type='FCOSHead',
        num_classes=80,
        in_channels=32,
        stacked_convs=2,
        feat_channels=32,
        strides=[8, 16, 32, 64, 128],
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True),
        centerness_on_reg=False,
        norm_on_bbox=False,
        center_sampling=False,
        dcn_on_last_conv=False,
        conv_bias='auto',
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    # testing settings
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100))
''' + DATA_PART % '(150, 90)'

FCOS_HRNET = '''# Tiny FCOS-HRNetV2p for the hrnet-swift detection fixtures (written by make_detection_fixtures.py),
# in the style of mmdet 3.3.0's configs/hrnet/fcos_hrnetv2p-w32-gn-head_4xb4-1x_coco.py.
_base_ = './tiny_fcos_base.py'
model = dict(
    data_preprocessor=dict(
        mean=[103.53, 116.28, 123.675],
        std=[57.375, 57.12, 58.395],
        bgr_to_rgb=False),
    backbone=dict(
        _delete_=True,
        type='HRNet',
        extra=%s,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://msra/hrnetv2_w32')),
    neck=dict(
        _delete_=True,
        type='HRFPN',
        in_channels=[4, 8, 16, 32],
        out_channels=32,
        stride=2,
        num_outs=5))
''' % HRNET_EXTRA

FASTER_BASE = '''# Tiny Faster R-CNN base for the hrnet-swift detection fixtures (written by make_detection_fixtures.py).
# Laid out as mmdet 3.3.0's configs/_base_/models/faster-rcnn_r50_fpn.py with tiny widths; the ResNet
# backbone and FPN neck here are replaced by tiny_faster_rcnn_hrnet.py, as configs/hrnet/ does.
model = dict(
    type='FasterRCNN',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=32,
        num_outs=5),
    rpn_head=dict(
        type='RPNHead',
        in_channels=32,
        feat_channels=32,
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[8],
            ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=32,
            featmap_strides=[4, 8, 16, 32],
            # tiny images: mmdet's default finest_scale=56 would send every RoI to level 0;
            # with 8 the level boundaries are sqrt(wh) = 16, 32, 64 px and all 4 levels are used
            finest_scale=8),
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=32,
            fc_out_channels=64,
            roi_feat_size=7,
            num_classes=80,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    # model training and testing settings
    train_cfg=dict(
        rpn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.7,
                neg_iou_thr=0.3,
                min_pos_iou=0.3,
                match_low_quality=True,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=256,
                pos_fraction=0.5,
                neg_pos_ub=-1,
                add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(
            nms_pre=2000,
            max_per_img=1000,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=False,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=512,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(
            nms_pre=1000,
            max_per_img=1000,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100)))
''' + DATA_PART % '(100, 60)'

FASTER_HRNET = '''# Tiny Faster R-CNN-HRNetV2p for the hrnet-swift detection fixtures (written by
# make_detection_fixtures.py), in the style of mmdet 3.3.0's configs/hrnet/faster-rcnn_hrnetv2p-w32-1x_coco.py.
_base_ = './tiny_faster_rcnn_base.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='HRNet',
        extra=%s,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://msra/hrnetv2_w32')),
    neck=dict(
        _delete_=True,
        type='HRFPN',
        in_channels=[4, 8, 16, 32],
        out_channels=32))
''' % HRNET_EXTRA

CONFIG_FILES = OrderedDict([
    ('tiny_fcos_base.py', FCOS_BASE), ('tiny_fcos_hrnet.py', FCOS_HRNET),
    ('tiny_faster_rcnn_base.py', FASTER_BASE), ('tiny_faster_rcnn_hrnet.py', FASTER_HRNET),
])

MODELS_SPEC = OrderedDict([
    ('fcos', dict(config='tiny_fcos_hrnet.py', checkpoint='tiny_fcos.pth', first_seed=100)),
    ('faster_rcnn', dict(config='tiny_faster_rcnn_hrnet.py', checkpoint='tiny_faster_rcnn.pth', first_seed=200)),
])
ROI_ROWS = 100       # R-CNN head outputs are stored for the first ROI_ROWS proposals (mmdet's order)
FCOS_TARGET = 60     # (position, class) scores above 0.05 on person.jpg, set through conv_cls's bias
RCNN_TARGET = 20     # (RoI, class) probabilities above 0.05 on the photo that has fewest, set through
                     # fc_cls's background bias


# ================================================================ writers
def write_text(path, text):
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    with open(path, 'w') as f:
        f.write(text)


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=1) + '\n')


def write_safetensors(path, arrays):
    save_safetensors(OrderedDict((k, np.ascontiguousarray(v)) for k, v in sorted(arrays.items())), path)
    os.chmod(path, 0o644)  # it creates the file 0600


def save_npy(path, a):
    np.save(path, np.ascontiguousarray(a, dtype='<f4'))


def same_object(a, b):
    """Equal as loaded objects: types, key order, tensor dtype/shape/stride/values."""
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride() and torch.equal(a, b)
    if isinstance(a, dict):
        return (list(a) == list(b) and all(same_object(a[k], b[k]) for k in a)
                and getattr(a, '_metadata', None) == getattr(b, '_metadata', None))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_object(x, y) for x, y in zip(a, b))
    return a == b


def torch_save(obj, path, legacy=False):
    """torch.save (zip or the pre-1.6 legacy format); an existing file that loads to the same object is
    kept, so re-running changes no bytes (the legacy format names storages by memory address)."""
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


def f32(x):
    return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32)


# ================================================================ the odd photo
def make_odd_photo(path):
    """97x61 RGB PNG: smooth random pattern (sum of a few seeded sinusoids) plus mild noise."""
    rng = np.random.RandomState(61)
    yy, xx = np.mgrid[0:61, 0:97].astype(np.float64)
    img = np.zeros((61, 97, 3))
    for c in range(3):
        for _ in range(4):
            fx, fy, ph, amp = rng.uniform(-0.25, 0.25), rng.uniform(-0.25, 0.25), rng.uniform(0, 6.3), rng.uniform(20, 50)
            img[..., c] += amp * np.sin(fx * xx + fy * yy + ph)
    img += 128 + rng.normal(0, 4, img.shape)
    bgr = np.clip(np.round(img), 0, 255).astype(np.uint8)
    ok, data = cv2.imencode('.png', bgr)
    assert ok
    if not (os.path.exists(path) and open(path, 'rb').read() == data.tobytes()):
        open(path, 'wb').write(data.tobytes())


# ================================================================ random weights
def randomize(model, seed):
    """Every parameter and buffer, in state-dict order from one seeded generator: convs and linears
    Kaiming-normal (std sqrt(2 / fan_in)), BN/GN weight U(0.5, 1.5), BN/GN bias and conv/linear bias
    N(0, 0.1), running_mean N(0, 0.1), running_var U(0.5, 1.5), num_batches_tracked a random int,
    the FCOS Scale of level l 0.8 + 0.125 l + U(-0.02, 0.02)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if name.endswith('num_batches_tracked'):
                t.fill_(int(torch.randint(1, 100000, (), generator=g)))
            elif name.endswith('.scale') and t.dim() == 0:
                level = int(name.split('.')[-2])
                t.fill_(0.8 + 0.125 * level + 0.04 * (float(torch.rand((), generator=g)) - 0.5))
            elif t.dim() >= 2:
                fan_in = int(np.prod(t.shape[1:]))
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif name.endswith('running_var') or name.endswith('weight'):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            else:
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
    return model.eval()


def calibrate(model, data):
    """Scales each conv and linear (weight and bias) so its output has standard deviation 1 on `data`,
    in execution order; a layer that runs more than once (the shared head convs, once per level)
    is scaled at its first call (level 0). Keeps every activation O(1) despite random BN statistics."""
    done = set()

    def rescale(mod, inputs, output):
        if mod in done:
            return None
        done.add(mod)
        s = output.std()
        mod.weight /= s
        if mod.bias is not None:
            mod.bias /= s
        return output / s
    hooks = [m.register_forward_hook(rescale) for m in model.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model.test_step(data)
    for h in hooks:
        h.remove()


def prepared(model, path):
    """The test pipeline's output for one image file, as inference_detector builds it."""
    pipeline = Compose(get_test_pipeline_cfg(model.cfg.copy()))
    d = pipeline(dict(img_path=path, img_id=0))
    return dict(inputs=[d['inputs']], data_samples=[d['data_samples']])


def capture_input(model, module, data, which='output'):
    got = []
    h = module.register_forward_hook(lambda m, i, o: got.append(i if which == 'input' else o))
    with torch.no_grad():
        model.test_step(data)
    h.remove()
    return got


def tune_fcos(model, data, g):
    """conv_cls: std 3 logits, per-class offsets N(0, 0.5), and one shift chosen so that exactly
    FCOS_TARGET (position, class) scores on person.jpg pass 0.05, midway between two scores;
    conv_reg: std 0.4 around 2.8 (distances exp(Scale_l * 2.8) ~ 9..38 px); centerness std 1, bias 0."""
    head = model.bbox_head
    with torch.no_grad():
        head.conv_cls.weight *= 3.0
        head.conv_cls.bias.copy_(0.5 * torch.randn(80, generator=g))
        head.conv_reg.weight *= 0.4
        head.conv_reg.bias.fill_(2.8)
        head.conv_centerness.bias.zero_()
        outs = capture_input(model, head, data)[0]
    logits = np.sort(np.concatenate([f32(c).reshape(-1) for c in outs[0]]).astype(np.float64))[::-1]
    target = math.log(0.05 / 0.95)
    shift = target - 0.5 * (logits[FCOS_TARGET - 1] + logits[FCOS_TARGET])
    with torch.no_grad():
        head.conv_cls.bias += shift


def tune_faster(model, data, g):
    """rpn_cls: std 1.5 logits, bias -4 (low scores: fine float32 steps, so few exact ties); rpn_reg
    std 1 (diverse proposals: far fewer IoU comparisons near 0.7 than with anchor-like boxes); fc_cls
    std 4 with per-class bias N(0, 0.3) and a background bias chosen (on the RoIs of the three photos)
    so that RCNN_TARGET (RoI, class) probabilities pass 0.05 on the photo with fewest (midway between
    two boundaries); fc_reg std 1, bias 0."""
    with torch.no_grad():
        model.rpn_head.rpn_cls.weight *= 1.5
        model.rpn_head.rpn_cls.bias.fill_(-4.0)
        model.rpn_head.rpn_reg.bias.zero_()
        bh = model.roi_head.bbox_head
        bh.fc_cls.weight *= 4.0
        bh.fc_cls.bias.copy_(0.3 * torch.randn(81, generator=g))
        bh.fc_reg.bias.zero_()
        feats = [capture_input(model, bh.fc_cls, prepared(model, os.path.join(REPO, rel)), 'input')[0][0]
                 for rel in PHOTOS.values()]
    w = f32(bh.fc_cls.weight).astype(np.float64)
    bias = f32(bh.fc_cls.bias).astype(np.float64)
    logits = [f32(f).astype(np.float64) @ w.T + bias for f in feats]

    def count(b):  # the smallest per-photo count of (RoI, class) probabilities above 0.05
        counts = []
        for lg in logits:
            z = lg.copy()
            z[:, 80] += b
            z -= z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            counts.append(int((p[:, :80] > 0.05).sum()))
        return min(counts)

    def boundary(k):  # smallest b with count(b) <= k
        lo, hi = -30.0, 30.0
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            if count(mid) <= k:
                hi = mid
            else:
                lo = mid
        return hi
    b = 0.5 * (boundary(RCNN_TARGET) + boundary(RCNN_TARGET - 1))
    with torch.no_grad():
        bh.fc_cls.bias[80] += b


# ================================================================ one recorded run
class Capture:
    def __init__(self):
        self.t = OrderedDict()


def install_decode_recorder(log):
    """Records (raw, clamped, max_shape) of every box decode with a max_shape."""
    patched = []
    for cls in (DistancePointBBoxCoder, DeltaXYWHBBoxCoder):
        orig = cls.decode

        def wrapped(self, a, b, *args, __orig=orig, __name=cls.__name__, **kw):
            out = __orig(self, a, b, *args, **kw)
            if kw.get('max_shape') is not None:
                raw = __orig(self, a, b, *args, **dict(kw, max_shape=None))
                log.append(dict(coder=__name, raw=f32(raw), out=f32(out), max_shape=tuple(kw['max_shape'])))
            return out
        cls.decode = wrapped
        patched.append((cls, orig))
    return patched


def run_recorded(model, kind, path):
    """inference_detector on one image file, with hooks that keep the intermediate tensors and logs of
    every NMS, decode and RoIAlign call."""
    global NMS_LOG, ROI_LOG
    NMS_LOG, ROI_LOG = [], []
    decodes = []
    cap = OrderedDict()
    hooks = []

    def keep(name):
        def hook(m, i, o):
            cap.setdefault(name, o)
        return hook

    def keep_pre(name):
        def hook(m, args, kwargs):
            cap.setdefault(name, (args, kwargs))
        return hook
    hooks.append(model.data_preprocessor.register_forward_hook(keep('pre')))
    hooks.append(model.backbone.register_forward_hook(keep('backbone')))
    hooks.append(model.neck.register_forward_hook(keep('neck')))
    if kind == 'fcos':
        hooks.append(model.bbox_head.register_forward_hook(keep('head')))
    else:
        hooks.append(model.rpn_head.register_forward_hook(keep('rpn')))
        hooks.append(model.roi_head.bbox_roi_extractor.register_forward_hook(keep('roi_extractor')))
        hooks.append(model.roi_head.bbox_roi_extractor.register_forward_pre_hook(keep_pre('roi_extractor_in'),
                                                                                with_kwargs=True))
        hooks.append(model.roi_head.bbox_head.register_forward_hook(keep('roi_bbox_head')))
        orig_predict = model.roi_head.predict

        def predict(x, rpn_results_list, *a, **k):
            cap.setdefault('proposals', rpn_results_list[0].clone())
            return orig_predict(x, rpn_results_list, *a, **k)
        model.roi_head.predict = predict
    patched = install_decode_recorder(decodes)
    try:
        result = inference_detector(model, path)
    finally:
        for h in hooks:
            h.remove()
        for cls, orig in patched:
            cls.decode = orig
        if kind != 'fcos':
            del model.roi_head.predict
    logs = dict(nms=NMS_LOG, roi=ROI_LOG, decode=decodes)
    NMS_LOG, ROI_LOG = None, None
    return result, cap, logs


# ================================================================ knife-edge checks
def rel_gap_at(scores_desc, k):
    """Relative gap between the k-th and (k+1)-th of descending scores."""
    a, b = float(scores_desc[k - 1]), float(scores_desc[k])
    return (a - b) / abs(a) if a != 0 else float('inf')


def check_knife_edges(kind, model, cap, logs):
    """Returns [(check, worst margin found, required margin, ok)]."""
    out = []

    def add(name, value, need):
        out.append((name, value, need, bool(value > need)))

    def score_margin(scores, thr):
        s = np.asarray(scores, np.float32).reshape(-1).astype(np.float64)
        return float(np.min(np.abs(s - thr)) / thr) if s.size else float('inf')

    def nms_checks(label, call, margin, max_per_img):
        thr = call['thr']
        ious = call['ious']
        ious = ious[np.isfinite(ious)]
        add(label + ' IoU vs %.1f (executed comparisons)' % thr,
            float(np.min(np.abs(ious.astype(np.float64) - np.float32(thr)) / thr)) if ious.size else float('inf'),
            margin)
        s = call['scores'].numpy()
        add(label + ' exact score ties among %d NMS inputs (1 = none)' % len(s),
            1.0 if len(np.unique(s)) == len(s) else 0.0, 0.5)
        add(label + ' torchvision == mmcv kernel port (1 = yes)', 1.0 if call['agree'] else 0.0, 0.5)
        kept = np.sort(s[call['keep'].numpy()])[::-1]
        if len(kept) > max_per_img:
            add(label + ' max_per_img cut (%d of %d kept)' % (max_per_img, len(kept)),
                rel_gap_at(kept, max_per_img), MARGINS['cut'])

    def zero_box_checks(label, decodes):
        worst = float('inf')
        for d in decodes:
            raw, out_, (h, w) = d['raw'], d['out'], d['max_shape'][:2]
            for lo_i, hi_i, edge in ((0, 2, w), (1, 3, h)):
                size = out_[:, hi_i] - out_[:, lo_i]
                tiny = (size > 0) & (size <= MARGINS['zero_box'])
                if tiny.any():
                    worst = min(worst, 0.0)
                z = size == 0
                if z.any():
                    # both corners beyond the same edge: distance of the nearer corner to that edge
                    beyond_hi = np.minimum(raw[z, lo_i], raw[z, hi_i]) - edge
                    beyond_lo = 0 - np.maximum(raw[z, lo_i], raw[z, hi_i])
                    worst = min(worst, float(np.min(np.maximum(beyond_hi, beyond_lo))))
        add(label + ' zero-size boxes at the clamp (px beyond the edge)', worst, MARGINS['zero_box'])

    if kind == 'fcos':
        cls_scores, _, _ = cap['head']
        test_cfg = model.bbox_head.test_cfg
        allsig = [torch.sigmoid(c[0]).numpy() for c in cls_scores]
        add('sigmoid(cls) vs score_thr 0.05 (%d scores)' % sum(a.size for a in allsig),
            score_margin(np.concatenate([a.reshape(-1) for a in allsig]), 0.05), MARGINS['score_thr'])
        for lvl, a in enumerate(allsig):
            v = np.sort(a[a > np.float32(0.05)])[::-1]
            if len(v) > test_cfg.nms_pre:
                add('level %d nms_pre cut (%d candidates)' % (lvl, len(v)), rel_gap_at(v, test_cfg.nms_pre),
                    MARGINS['cut'])
        zero_box_checks('FCOS decode', logs['decode'])
        assert len(logs['nms']) <= 1
        for call in logs['nms']:
            nms_checks('FCOS NMS', call, MARGINS['nms_iou'], test_cfg.max_per_img)
    else:
        rpn_cls, _ = cap['rpn']
        rcfg = model.rpn_head.test_cfg
        for lvl, c in enumerate(rpn_cls):
            v = np.sort(torch.sigmoid(c[0]).numpy().reshape(-1))[::-1]
            if len(v) > rcfg.nms_pre:
                add('RPN level %d nms_pre cut (%d anchors)' % (lvl, len(v)), rel_gap_at(v, rcfg.nms_pre),
                    MARGINS['cut'])
        zero_box_checks('RPN decode', logs['decode'][:1])  # the R-CNN decode follows; it has no size filter
        nms_checks('RPN NMS', logs['nms'][0], MARGINS['rpn_nms_iou'], rcfg.max_per_img)
        # RoI level mapping and RoIAlign sampling
        props = cap['proposals'].bboxes
        wh = (props[:, 2] - props[:, 0]) * (props[:, 3] - props[:, 1])
        finest = model.roi_head.bbox_roi_extractor.finest_scale
        lv = torch.log2(torch.sqrt(wh) / finest + 1e-6).numpy().astype(np.float64)
        near = np.abs(lv - np.round(lv))[(np.round(lv) >= 1) & (np.round(lv) <= 3)]
        add('RoI level boundaries (log2 units, %d RoIs)' % len(lv), float(near.min()) if near.size else 1.0,
            MARGINS['roi_level'])
        grid_m, sample_m = float('inf'), float('inf')
        for call in logs['roi']:
            r = call['rois'].numpy()
            s, half = np.float32(call['scale']), np.float32(0.5)
            for c0, c1, extent in ((1, 3, call['width']), (2, 4, call['height'])):
                start = r[:, c0] * s - half
                size = (r[:, c1] * s - half) - start
                binsz = size / np.float32(7)
                q = size.astype(np.float64) / 7
                grid_m = min(grid_m, float(np.min(np.abs(q - np.round(q)))))
                grid = np.ceil(size / np.float32(7)).astype(int)
                for k in range(len(r)):
                    gk = max(grid[k], 0)
                    if gk == 0:
                        continue
                    p = np.arange(7, dtype=np.float32)[:, None]
                    i = np.arange(gk, dtype=np.float32)[None, :]
                    coords = start[k] + p * binsz[k] + (i + np.float32(0.5)) * binsz[k] / np.float32(gk)
                    sample_m = min(sample_m, float(np.min(np.abs(coords + 1))), float(np.min(np.abs(coords - extent))))
        add('RoIAlign grid counts (size/7 from an integer)', grid_m, MARGINS['roi_grid'])
        add('RoIAlign samples vs -1 and H/W (feature px)', sample_m, MARGINS['roi_sample'])
        # R-CNN scores and NMS
        cls_score = cap['roi_bbox_head'][0]
        probs = F.softmax(cls_score, dim=-1)[:, :80].numpy()
        add('softmax vs score_thr 0.05 (%d probabilities)' % probs.size, score_margin(probs, 0.05),
            MARGINS['score_thr'])
        if len(logs['nms']) > 1:
            nms_checks('R-CNN NMS', logs['nms'][1], MARGINS['nms_iou'], model.roi_head.test_cfg.max_per_img)
    return out


# ================================================================ models
def build(kind, seed):
    spec = MODELS_SPEC[kind]
    cfg = Config.fromfile(os.path.join(HERE, spec['config']))
    cfg.model.backbone.init_cfg = None  # as init_detector does without cfg_options
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    model.cfg = cfg
    model.dataset_meta = {'classes': COCO_CLASSES}
    randomize(model, seed)
    g = torch.Generator().manual_seed(seed + 7)
    data = prepared(model, os.path.join(REPO, PHOTOS['person']))
    calibrate(model, data)
    (tune_fcos if kind == 'fcos' else tune_faster)(model, data, g)
    return model.eval()


def checkpoint_of(model, cfg_text):
    sd = model.state_dict()
    meta = {'mmdet_version': mmdet.__version__, 'config': cfg_text, 'CLASSES': COCO_CLASSES,
            'epoch': 12, 'iter': 1000}
    return {'meta': meta, 'state_dict': sd}


def find_model(kind):
    """First seed from MODELS_SPEC[kind]['first_seed'] up whose runs pass every knife-edge check."""
    seed = MODELS_SPEC[kind]['first_seed']
    for attempt in range(200):
        model = build(kind, seed)
        runs, failed = OrderedDict(), []
        for name, rel in PHOTOS.items():
            result, cap, logs = run_recorded(model, kind, os.path.join(REPO, rel))
            checks = check_knife_edges(kind, model, cap, logs)
            failed += ['%s: %s (%.3g <= %.3g)' % (name, c, v, need) for c, v, need, ok in checks if not ok]
            runs[name] = (result, cap, logs, checks)
        if not failed:
            print('  %s: seed %d passes every check' % (kind, seed))
            return seed, model, runs
        print('  %s: seed %d rejected: %s' % (kind, seed, '; '.join(failed)))
        seed += 1
    raise RuntimeError('no seed passed')


def level_list(prefix, tensors, out):
    for i, t in enumerate(tensors):
        out['%s.%d' % (prefix, i)] = np.ascontiguousarray(f32(t[0]))


def detections_json(result):
    inst = result.pred_instances
    return OrderedDict([
        ('bboxes', [[float(v) for v in b] for b in f32(inst.bboxes)]),
        ('scores', [float(v) for v in f32(inst.scores)]),
        ('labels', [int(v) for v in inst.labels.numpy()]),
    ])


def coco_results(result):
    """mmdet's CocoMetric.results2json on this one result (image_id 0), cat_ids = the COCO table."""
    metric = CocoMetric(ann_file=None, metric='bbox', format_only=False)
    metric.cat_ids = COCO_IDS
    inst = result.pred_instances
    res = [dict(img_id=0, bboxes=inst.bboxes.numpy(), scores=inst.scores.numpy(), labels=inst.labels.numpy())]
    with tempfile.TemporaryDirectory() as tmp:
        files = metric.results2json(res, os.path.join(tmp, 'r'))
        with open(files['bbox']) as f:
            return json.load(f)


def write_model(kind, seed, model, runs, manifest):
    spec = MODELS_SPEC[kind]
    cfg_text = Config.fromfile(os.path.join(HERE, spec['config'])).pretty_text
    ck = checkpoint_of(model, cfg_text)
    stem = spec['checkpoint'][:-4]
    torch_save(ck, os.path.join(HERE, spec['checkpoint']))
    if kind == 'fcos':
        torch_save(ck, os.path.join(HERE, stem + '_legacy.pth'), legacy=True)
        torch_save(ck['state_dict'], os.path.join(HERE, stem + '_nometa.pth'))
    sd = ck['state_dict']
    write_text(os.path.join(HERE, stem + '_keys.txt'),
               ''.join('%s %s %s\n' % (k, str(v.dtype).replace('torch.', ''), list(v.shape)) for k, v in sd.items()))

    # every checkpoint file loads through init_detector and gives the same detections
    files = [spec['checkpoint']] + ([stem + '_legacy.pth', stem + '_nometa.pth'] if kind == 'fcos' else [])
    for fname in files:
        m2 = init_detector(os.path.join(HERE, spec['config']), os.path.join(HERE, fname), device='cpu')
        for name, rel in PHOTOS.items():
            r2 = inference_detector(m2, os.path.join(REPO, rel))
            r1 = runs[name][0]
            assert torch.equal(r1.pred_instances.bboxes, r2.pred_instances.bboxes), (fname, name)
            assert torch.equal(r1.pred_instances.scores, r2.pred_instances.scores), (fname, name)

    entry = OrderedDict(seed=seed, config=REL + '/' + spec['config'], checkpoint=REL + '/' + spec['checkpoint'],
                        params=int(sum(v.numel() for k, v in sd.items() if not k.endswith('num_batches_tracked'))),
                        state_dict_entries=len(sd), photos=OrderedDict())
    for name, rel in PHOTOS.items():
        result, cap, logs, checks = runs[name]
        meta = result.metainfo
        pre = cap['pre']
        inputs = f32(pre['inputs'])
        save_npy(os.path.join(HERE, '%s_%s_input.npy' % (kind, name)), inputs)
        arrays = OrderedDict()
        level_list('backbone', cap['backbone'], arrays)
        level_list('neck', cap['neck'], arrays)
        if kind == 'fcos':
            cls_scores, bbox_preds, centernesses = cap['head']
            level_list('cls_score', cls_scores, arrays)
            level_list('bbox_pred', bbox_preds, arrays)
            level_list('centerness', centernesses, arrays)
        else:
            rpn_cls, rpn_reg = cap['rpn']
            level_list('rpn_cls', rpn_cls, arrays)
            level_list('rpn_reg', rpn_reg, arrays)
            props = cap['proposals']
            arrays['proposals.bboxes'] = f32(props.bboxes)
            arrays['proposals.scores'] = f32(props.scores)
            rois = cap['roi_extractor_in'][0][1]
            assert torch.equal(rois[:, 1:], props.bboxes)
            arrays['proposals.levels'] = np.ascontiguousarray(
                model.roi_head.bbox_roi_extractor.map_roi_levels(rois, 4).numpy().astype(np.int64))
            cls_score, bbox_pred = cap['roi_bbox_head']
            assert cls_score.shape[0] == len(props)
            arrays['roi_cls_score'] = f32(cls_score[:ROI_ROWS])  # size: the first ROI_ROWS proposals only
            arrays['roi_bbox_pred'] = f32(bbox_pred[:ROI_ROWS])
        write_safetensors(os.path.join(HERE, '%s_%s.safetensors' % (kind, name)), arrays)
        dets = detections_json(result)
        doc = OrderedDict([
            ('model', kind), ('config', REL + '/' + spec['config']), ('checkpoint', REL + '/' + spec['checkpoint']),
            ('image', rel), ('input', '%s/%s_%s_input.npy' % (REL, kind, name)),
            ('outputs', '%s/%s_%s.safetensors' % (REL, kind, name)),
            ('ori_shape', list(meta['ori_shape'])), ('img_shape', list(meta['img_shape'])),
            ('pad_shape', list(meta['pad_shape'])), ('batch_input_shape', list(meta['batch_input_shape'])),
            ('scale_factor', [float(v) for v in meta['scale_factor']]),
            ('input_shape', list(inputs.shape)),
            ('num_detections', len(dets['scores'])),
            ('detections', dets),
            ('coco_results', coco_results(result)),
            ('knife_edge_checks', [OrderedDict(check=c, worst=(v if math.isfinite(v) else None), required=need)
                                   for c, v, need, ok in checks]),
        ])
        if kind == 'fcos':
            doc['num_candidates'] = int(len(logs['nms'][0]['scores'])) if logs['nms'] else 0
        else:
            doc['num_rpn_nms_inputs'] = int(len(logs['nms'][0]['scores']))
            doc['num_proposals'] = int(len(cap['proposals']))
            doc['num_rcnn_candidates'] = int(len(logs['nms'][1]['scores'])) if len(logs['nms']) > 1 else 0
        write_json(os.path.join(HERE, '%s_%s.json' % (kind, name)), doc)
        entry['photos'][name] = OrderedDict(
            [(k, doc[k]) for k in ('image', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'num_detections')
             + (('num_candidates',) if kind == 'fcos' else ('num_rpn_nms_inputs', 'num_proposals', 'num_rcnn_candidates'))])
        print('  %s %s: %s -> img %s pad %s, %d detections' % (kind, name, doc['ori_shape'], doc['img_shape'],
                                                               doc['pad_shape'], doc['num_detections']))
    manifest['models'][kind] = entry


# ================================================================ standalone op references
def make_ops(manifest):
    g = torch.Generator().manual_seed(7)
    arrays = OrderedDict()
    doc = OrderedDict(groupnorm=[], roi_align=OrderedDict(), batched_nms=[])

    # GroupNorm, eps 1e-5, affine; inputs with nonzero per-channel means
    for k, (n, c, h, w, groups) in enumerate([(2, 24, 5, 7, 6), (1, 32, 3, 3, 8), (1, 48, 9, 1, 3), (2, 20, 4, 6, 5)]):
        x = torch.randn(n, c, h, w, generator=g) * (0.5 + torch.rand(1, c, 1, 1, generator=g) * 2) \
            + torch.randn(1, c, 1, 1, generator=g) * 2 + 1.5
        gamma = 0.5 + torch.rand(c, generator=g)
        beta = 0.5 * torch.randn(c, generator=g)
        y = F.group_norm(x, groups, gamma, beta, eps=1e-5)
        name = 'gn%d' % k
        for key, t in (('x', x), ('gamma', gamma), ('beta', beta), ('y', y), ('y_relu', F.relu(y))):
            arrays['%s.%s' % (name, key)] = f32(t)
        doc['groupnorm'].append(OrderedDict(name=name, shape=[n, c, h, w], groups=groups, eps=1e-5,
                                            keys=[name + '.' + k for k in ('x', 'gamma', 'beta', 'y', 'y_relu')]))

    # RoIAlign: torchvision (aligned=True, sampling_ratio=0, 7x7, avg) on a (1, 20, 13, 17) map
    feat = torch.randn(1, 20, 13, 17, generator=g) + 0.3
    arrays['roi_align.input'] = f32(feat)
    named = OrderedDict([
        ('normal', [4.3, 6.1, 30.7, 25.2]),
        ('tiny_subpixel', [10.2, 11.3, 10.9, 11.8]),
        ('zero_width', [20.0, 12.0, 20.0, 28.0]),
        ('zero_size', [24.0, 16.0, 24.0, 16.0]),
        ('exact_grid_14x7_at_0.25', [8.0, 4.0, 64.0, 32.0]),
        ('partly_outside_top_left', [-12.5, -7.25, 15.5, 20.0]),
        ('partly_outside_bottom_right', [50.0, 40.0, 90.0, 70.0]),
        ('outside_bottom_right', [140.0, 110.0, 180.0, 150.0]),
        ('outside_top_left', [-60.0, -50.0, -12.0, -9.0]),
        ('huge', [-40.0, -30.0, 300.0, 250.0]),
        ('thin_tall', [33.3, -5.0, 34.1, 60.0]),
        ('image_sized_at_0.25', [0.0, 0.0, 68.0, 52.0]),
    ])
    rand = torch.rand(10, 4, generator=g) * torch.tensor([80.0, 60.0, 60.0, 50.0])
    boxes = [list(b) for b in named.values()] + [[float(b[0]) - 10, float(b[1]) - 8, float(b[0]) - 10 + float(b[2]),
                                                  float(b[1]) - 8 + float(b[3])] for b in rand]
    names = list(named) + ['random%d' % i for i in range(10)]
    rois = torch.tensor([[0.0] + b for b in boxes], dtype=torch.float32)
    arrays['roi_align.rois'] = f32(rois)
    doc['roi_align'] = OrderedDict(input='roi_align.input', input_shape=[1, 20, 13, 17], rois='roi_align.rois',
                                   roi_names=names, output_size=7, sampling_ratio=0, aligned=True,
                                   outputs=OrderedDict(),
                                   refused_by_mmcv=OrderedDict(x1_gt_x2=[0.0, 30.0, 10.0, 20.0, 20.0]),
                                   note='mmcv (aligned=True) asserts on x2 < x1 or y2 < y1; torchvision does not')
    for scale in (0.25, 0.125):
        out = torchvision.ops.roi_align(feat, rois, (7, 7), scale, 0, True)
        if MMCV_ROI_ALIGN is not None:
            ref = run_mmcv_roi_align(feat, rois, 7, 7, scale, 0)
            assert np.array_equal(ref, out.numpy()), 'mmcv kernel vs torchvision at %g' % scale
        key = 'roi_align.output_%g' % scale
        arrays[key] = f32(out)
        doc['roi_align']['outputs'][str(scale)] = key
    doc['roi_align']['mmcv_kernel_checked'] = MMCV_ROI_ALIGN is not None

    # batched NMS (mmcv.ops.batched_nms through the stand-in; cross-checked against the kernel port)
    from mmcv.ops import batched_nms

    def nms_case(name, boxes, scores, idxs, thr, note):
        b = torch.tensor(boxes, dtype=torch.float32)
        s = torch.tensor(scores, dtype=torch.float32)
        i = torch.tensor(idxs, dtype=torch.int64)
        dets, keep = batched_nms(b, s, i, dict(type='nms', iou_threshold=thr))
        # IoUs on the class-offset boxes, as mmcv computes them
        off = b + (i.to(b) * (b.max() + torch.tensor(1).to(b)))[:, None]
        comps = []
        port = mmcv_nms_port(off, s, thr, comps)
        assert np.array_equal(port, keep.numpy())
        doc['batched_nms'].append(OrderedDict(
            name=name, iou_threshold=thr, note=note,
            boxes=[[float(v) for v in r] for r in f32(b)], scores=[float(v) for v in f32(s)],
            idxs=[int(v) for v in idxs], keep=[int(v) for v in keep.numpy()],
            kept_scores=[float(v) for v in f32(dets[:, 4])]))
        return keep, comps

    nms_case('equal_scores_disjoint',
             [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10], [0, 20, 10, 30], [1, 1, 11, 11], [21, 1, 31, 11]],
             [0.5, 0.5, 0.5, 0.7, 0.3, 0.5], [0, 0, 1, 0, 0, 1], 0.5,
             'boxes 0, 1, 2 have equal scores and overlap nothing of their class: all kept; among equal scores '
             'the order is by index (torchvision sorts stably; mmcv\'s kernel sorts unstably, only the set is '
             'fixed there). Box 4 (IoU 0.68 with box 0) is suppressed; box 5 is class 1, disjoint from box 2.')
    # IoU just away from 0.5 on both sides: shifted copies of a 20x20 box (IoU = (20-d)/(20+d))
    d_lo = 20 * (1 - 0.5) / (1 + 0.5)   # IoU exactly 0.5 at d = 6.6667
    nms_case('iou_near_threshold',
                    [[0, 0, 20, 20], [d_lo - 0.02, 0, 20 + d_lo - 0.02, 20], [100, 0, 120, 20],
                     [100 + d_lo + 0.02, 0, 120 + d_lo + 0.02, 20], [0, 50, 20, 70],
                     [d_lo - 0.02, 50, 20 + d_lo - 0.02, 70]],
                    [0.9, 0.8, 0.85, 0.75, 0.6, 0.65], [0, 0, 0, 0, 2, 2], 0.5,
                    'box 1 vs 0: IoU ~0.5015 > 0.5 (suppressed); box 3 vs 2: IoU ~0.4985 (kept); boxes 4/5 are '
                    'class 2 (offset by 2 * (max + 1)): the higher-scored box 5 suppresses box 4.')
    rng = np.random.RandomState(11)
    for name, n, ncls, thr, maxc in (('random_5_classes', 40, 5, 0.5, 60.0), ('rpn_like_levels', 60, 5, 0.7, 40.0),
                                     ('many_classes_large_coords', 50, 80, 0.5, 1300.0)):
        for attempt in range(1000):
            xy = rng.uniform(0, maxc, (n, 2))
            wh = rng.uniform(0.1 * maxc, 0.4 * maxc, (n, 2))
            bx = np.concatenate([xy, xy + wh], 1).astype(np.float32)
            if name == 'many_classes_large_coords':  # clusters so that several classes have overlaps
                bx = (np.repeat(bx[:10], 5, 0) + rng.uniform(-15, 15, (n, 4))).astype(np.float32)
                bx[:, 2:] = np.maximum(bx[:, 2:], bx[:, :2] + 1)
            sc = rng.uniform(0.05, 1.0, n).astype(np.float32)
            ids = rng.randint(0, ncls, n) if ncls < 80 else rng.choice([0, 17, 41, 79], n)
            if len(np.unique(sc)) < n:
                continue
            b = torch.tensor(bx)
            off = b + (torch.tensor(ids).to(b) * (b.max() + torch.tensor(1).to(b)))[:, None]
            comps = []
            mmcv_nms_port(off, torch.tensor(sc), thr, comps)
            c = np.concatenate(comps) if comps else np.zeros(0, np.float32)
            c = c[np.isfinite(c)]
            if c.size == 0 or np.min(np.abs(c.astype(np.float64) - thr)) / thr > 1e-3:
                break
        nms_case(name, bx.tolist(), sc.tolist(), [int(v) for v in ids], thr,
                 'random boxes, distinct scores; no executed IoU comparison within 1e-3 (relative) of the '
                 'threshold (IoUs on mmcv\'s class-offset boxes)')
    # the offset trick decides: raw-coordinate IoU above 0.5, offset-coordinate IoU (float32) at or below
    found = None
    for attempt in range(20000):
        x = rng.uniform(900, 1300)
        y = rng.uniform(600, 800)
        w, h = rng.uniform(100, 300), rng.uniform(100, 300)
        dx = rng.uniform(0.3, 0.36) * w
        a = np.array([x, y, x + w, y + h], np.float32)
        b = np.array([x + dx, y, x + w + dx, y + h], np.float32)
        bx = np.stack([a, b])
        raw = []
        mmcv_nms_port(torch.tensor(bx), torch.tensor([0.9, 0.8], dtype=torch.float32), 0.5, raw)
        offb = torch.tensor(bx) + (torch.tensor([79, 79]).float() * (torch.tensor(bx).max() + 1))[:, None]
        offc = []
        mmcv_nms_port(offb, torch.tensor([0.9, 0.8], dtype=torch.float32), 0.5, offc)
        if (raw[0][0] > np.float32(0.5)) != (offc[0][0] > np.float32(0.5)):
            found = (bx, float(raw[0][0]), float(offc[0][0]))
            break
    if found is not None:
        bx, iou_raw, iou_off = found
        nms_case('class_offset_decides', bx.tolist(), [0.9, 0.8], [79, 79], 0.5,
                 'class 79 boxes near x ~1000: IoU on the raw float32 coordinates is %r, on mmcv\'s offset '
                 'coordinates (box + 79 * (max + 1), float32) %r; the threshold 0.5 falls between, so a port '
                 'must copy the offset trick to match mmcv here.' % (iou_raw, iou_off))
    write_safetensors(os.path.join(HERE, 'ops.safetensors'), arrays)
    write_json(os.path.join(HERE, 'ops.json'), doc)
    manifest['ops'] = OrderedDict(groupnorm=len(doc['groupnorm']), roi_align_rois=len(names),
                                  batched_nms=[c['name'] for c in doc['batched_nms']],
                                  mmcv_roi_align_kernel_checked=MMCV_ROI_ALIGN is not None)


# ================================================================ main
def main():
    os.chdir(REPO)
    print('mmdet %s, mmengine %s, mmcv-lite %s, torch %s, torchvision %s, numpy %s, cv2 %s' % (
        mmdet.__version__, mmengine.__version__, mmcv.__version__, torch.__version__, torchvision.__version__,
        np.__version__, cv2.__version__))
    compile_mmcv_roi_align()
    for fname, text in CONFIG_FILES.items():
        write_text(os.path.join(HERE, fname), text)
    make_odd_photo(os.path.join(REPO, PHOTOS['odd']))
    manifest = OrderedDict(
        versions=OrderedDict(mmdet=mmdet.__version__, mmengine=mmengine.__version__, mmcv_lite=mmcv.__version__,
                             torch=torch.__version__.split('+')[0], torchvision=torchvision.__version__.split('+')[0],
                             numpy=np.__version__, opencv=cv2.__version__),
        margins=MARGINS, models=OrderedDict())
    print('knife-edge margins: %s' % ', '.join('%s %g' % kv for kv in MARGINS.items()))
    for kind in MODELS_SPEC:
        seed, model, runs = find_model(kind)
        for name in PHOTOS:
            for c, v, need, ok in runs[name][3]:
                print('    %-7s %-62s worst %-10.3g need > %g' % (name, c, v, need))
        write_model(kind, seed, model, runs, manifest)
    make_ops(manifest)
    write_json(os.path.join(HERE, 'manifest.json'), manifest)
    print('done')


if __name__ == '__main__':
    main()
