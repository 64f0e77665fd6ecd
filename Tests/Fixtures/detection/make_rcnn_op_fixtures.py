#!/usr/bin/env python3
"""Reference data for the Faster R-CNN test-time ops in Sources/Detection/RCNN/ (RoIAlign, RoI level
mapping, anchors, delta decoding), written to Tests/Fixtures/detection/rcnn_ops.json. Run from the
repository root with the detection venv (torch, torchvision, mmdet 3.3.0, mmengine, mmcv-lite; see
make_detection_fixtures.py for how it is set up):

    /work/venv-det/bin/python Tests/Fixtures/detection/make_rcnn_op_fixtures.py

Deterministic (seeded generator; one torch thread): re-running writes the same bytes.

Sources of truth:
- RoIAlign: torchvision.ops.roi_align (aligned=True, sampling_ratio=0, 7x7; and one aligned=False,
  sampling_ratio=2 case). mmcv's CPU kernel follows the same rules (-0.5 offset when aligned and no
  minimum size, ceil(size / 7) samples per bin, zero outside [-1, H] x [-1, W], clamping, sum / count);
  when a C++ compiler is present the kernel is cut out of the installed mmcv-lite's
  ops/csrc/pytorch/cpu/roi_align.cpp, compiled (g++ -O2 -ffp-contract=off) and must agree with
  torchvision bit for bit on every case. Every box here has x2 >= x1 and y2 >= y1: mmcv refuses
  others when aligned (the Swift port returns zeros for them, as torchvision does).
- RoI levels: mmdet SingleRoIExtractor.map_roi_levels (finest_scale 56, 4 levels).
- Anchors: mmdet AnchorGenerator.grid_priors (Faster R-CNN's strides 4..64, ratios 0.5/1/2, scale 8,
  center offset 0; plus a two-scale generator and one with center_offset 0.5).
- Deltas: mmdet DeltaXYWHBBoxCoder.decode (delta2bbox) with stds 1 and (0.1, 0.1, 0.2, 0.2), large
  dw/dh clamped at |log(16/1000)|, clipping to a max shape, boxes clipped to zero width.

mmcv-lite has no compiled mmcv._ext; importing mmdet.models needs the module to exist, so a stand-in
whose every function raises NotImplementedError is registered first (nothing here calls it).

Floats are written as the shortest decimal that reads back as the same float32. The feature map is
random normal rounded to 3 decimals (then float32), which keeps the file small.
"""
import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
import warnings

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'rcnn_ops.json')

torch.set_num_threads(1)
warnings.filterwarnings('ignore')


def install_ext_stand_in():
    ext = types.ModuleType('mmcv._ext')
    ext.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)

    def missing(name):
        if name.startswith('__'):
            raise AttributeError(name)

        def f(*args, **kwargs):
            raise NotImplementedError('mmcv._ext.%s is not in the stand-in' % name)
        return f
    ext.__getattr__ = missing
    sys.modules['mmcv._ext'] = ext


install_ext_stand_in()
from mmdet.models.task_modules.prior_generators import AnchorGenerator  # noqa: E402
from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder  # noqa: E402
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor  # noqa: E402


def f32(values):
    """Floats as the shortest decimals that read back as the same float32 values (nested lists)."""
    a = np.asarray(values, dtype=np.float32)
    flat = [float(str(v)) for v in a.reshape(-1)]  # str(np.float32) is the shortest round-trip form
    return np.array(flat, dtype=object).reshape(a.shape).tolist()


# ================================================================ mmcv's RoIAlign kernel (cross-check)
def compile_mmcv_roi_align():
    import ctypes
    import mmcv
    path = os.path.join(os.path.dirname(mmcv.__file__), 'ops', 'csrc', 'pytorch', 'cpu', 'roi_align.cpp')
    compiler = shutil.which('g++') or shutil.which('c++') or shutil.which('clang++')
    if not os.path.exists(path) or compiler is None:
        print('mmcv RoIAlign kernel: not compiled (no source or no compiler); torchvision only')
        return None
    src = open(path).read()
    body = src[src.index('template <typename T>\nstruct PreCalc'):
               src.index('template <typename T>\nvoid bilinear_interpolate_gradient')]
    code = ('#include <vector>\n#include <algorithm>\n#include <cmath>\n#include <stdexcept>\n'
            '#define AT_ASSERTM(c, m) do { if (!(c)) throw std::runtime_error(m); } while (0)\n'
            + body +
            'extern "C" int mmcv_roi_align_avg(const float* input, const float* rois, float* output,\n'
            '    int n_rois, int channels, int height, int width, int ph, int pw, float scale, int ratio,\n'
            '    int aligned) {\n'
            '  try { ROIAlignForward<float>(n_rois * channels * ph * pw, input, rois, output, nullptr, nullptr,\n'
            '        ph, pw, scale, ratio, 1, aligned != 0, channels, height, width); return 0; }\n'
            '  catch (...) { return 1; }\n}\n')
    tmp = tempfile.mkdtemp()
    cpp, lib = os.path.join(tmp, 'roi_align.cpp'), os.path.join(tmp, 'libroialign.so')
    with open(cpp, 'w') as f:
        f.write(code)
    subprocess.check_call([compiler, '-O2', '-ffp-contract=off', '-shared', '-fPIC', cpp, '-o', lib])
    fn = ctypes.CDLL(lib).mmcv_roi_align_avg
    fn.restype = ctypes.c_int

    def run(x, rois, size, scale, ratio, aligned):
        x = np.ascontiguousarray(x, np.float32)
        r = np.ascontiguousarray(rois, np.float32)
        out = np.zeros((r.shape[0], x.shape[1], size, size), np.float32)
        p = lambda a: a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))  # noqa: E731
        rc = fn(p(x), p(r), p(out), r.shape[0], x.shape[1], x.shape[2], x.shape[3], size, size,
                ctypes.c_float(scale), ratio, int(aligned))
        if rc != 0:
            raise RuntimeError('mmcv kernel refused the RoIs')
        return out
    print('mmcv RoIAlign kernel: compiled from the installed mmcv-lite source with %s' % os.path.basename(compiler))
    return run


# ================================================================ RoIAlign
def roi_align_cases(rng, mmcv_kernel):
    n, c, h, w = 2, 5, 13, 17
    feats = np.round(rng.standard_normal((n, c, h, w)), 3).astype(np.float32)
    x = torch.from_numpy(feats)
    # Boxes in image pixels: at scale 0.25 the map covers 68 x 52 pixels, at 0.125 136 x 104.
    boxes_quarter = [
        [0, 10.3, 12.7, 30.1, 40.9],      # ordinary
        [0, 20.1, 20.2, 20.6, 20.9],      # sub-pixel in feature units (0.125 x 0.175): one sample per bin
        [0, 33.3, 15.0, 33.3, 25.0],      # zero width: an empty grid, zeros
        [0, -10.5, -8.25, 15.5, 12.0],    # partly outside, top left (samples in [-1, 0] clamp to 0)
        [0, -7.0, -5.0, 3.0, 2.0],        # straddles -1: some samples zero, some clamped
        [0, 50.0, 40.0, 90.0, 70.0],      # partly outside, bottom right (samples past W, H are zero)
        [0, 100.0, 100.0, 140.0, 130.0],  # entirely outside: zeros
        [0, -200.0, -150.0, 400.0, 300.0],  # huge: 22 x 17 samples per bin
        [0, 12.0, 8.0, 12.4, 40.0],       # thin
        [1, 5.5, 6.25, 60.75, 48.5],      # batch 1
        [1, 0.0, 0.0, 68.0, 52.0],        # batch 1, the whole image
        [1, 66.9, 50.9, 68.0, 52.0],      # batch 1, the far corner (the y_low >= H - 1 clamp)
    ]
    boxes_eighth = [
        [1, 20.6, 25.4, 60.2, 81.8],
        [0, 40.2, 40.4, 41.2, 41.8],      # sub-pixel
        [0, -21.0, -16.5, 31.0, 24.0],    # partly outside
        [1, 100.0, 80.0, 180.0, 140.0],   # partly outside
        [1, 200.0, -50.0, 260.0, -20.0],  # entirely outside
        [0, -400.0, -300.0, 800.0, 600.0],  # huge
        [1, 0.0, 0.0, 136.0, 104.0],      # the whole image
        [0, 3.0, 90.0, 130.0, 92.5],      # thin, along the bottom
    ]
    cases = [
        ('aligned_quarter', boxes_quarter, 0.25, 0, True),
        ('aligned_eighth', boxes_eighth, 0.125, 0, True),
        ('unaligned_ratio2_quarter', [boxes_quarter[i] for i in (0, 1, 2, 4, 9, 11)], 0.25, 2, False),
    ]
    out = []
    for name, boxes, scale, ratio, aligned in cases:
        rois = torch.tensor(boxes, dtype=torch.float32)
        y = torchvision.ops.roi_align(x, rois, (7, 7), spatial_scale=scale, sampling_ratio=ratio,
                                      aligned=aligned).numpy()
        if mmcv_kernel is not None:
            ref = mmcv_kernel(feats, rois.numpy(), 7, scale, ratio, aligned)
            if not np.array_equal(ref, y):
                raise AssertionError('%s: torchvision and mmcv disagree (max %g)' % (name, np.abs(ref - y).max()))
        out.append(dict(name=name, spatial_scale=scale, sampling_ratio=ratio, aligned=aligned, output_size=7,
                        rois=[[int(b[0])] + f32(b[1:]) for b in boxes], output=f32(y.reshape(-1))))
        print('roi_align %-26s %2d RoIs, |out| max %.3f' % (name, len(boxes), np.abs(y).max()))
    return dict(shape=[n, c, h, w], features=f32(feats.reshape(-1)), cases=out)


# ================================================================ RoI levels
def roi_level_cases(rng):
    extractor = SingleRoIExtractor(roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
                                   out_channels=5, featmap_strides=[4, 8, 16, 32], finest_scale=56)
    boxes = []
    # 111.9999 stays on level 0, 111.99995 reaches level 1 through the + 1e-6 (float32).
    for s in [0.0, 1.0, 55.99, 56.0, 111.9, 111.99, 111.9999, 111.99995, 112.0, 223.9, 224.0, 447.9, 448.0, 1000.0,
              5000.0]:
        boxes.append([0.0, 0.0, s, s])
    boxes += [[10.0, 20.0, 38.0, 132.0],       # 28 x 112: scale 56
              [3.5, 7.25, 115.5, 119.25],      # 112 x 112 with offsets
              [100.0, 50.0, 100.5, 1000.0],    # thin: scale ~21.8
              [0.0, 0.0, 1333.0, 800.0]]       # a whole image: level 3
    for _ in range(6):
        x1, y1 = rng.uniform(0, 600, 2)
        w, h = np.exp(rng.uniform(np.log(8), np.log(700), 2))
        boxes.append([x1, y1, x1 + w, y1 + h])
    b = torch.tensor(np.asarray(boxes, np.float32))
    rois = torch.cat([torch.zeros(len(boxes), 1), b], 1)
    levels = extractor.map_roi_levels(rois, 4)
    print('roi levels', levels.tolist())
    return dict(finest_scale=56, num_levels=4, boxes=f32(b.numpy()), levels=levels.tolist())


# ================================================================ anchors
def anchor_cases():
    out = []
    generators = [
        ('faster_rcnn', dict(strides=[4, 8, 16, 32, 64], ratios=[0.5, 1.0, 2.0], scales=[8]),
         [(3, 5), (2, 3), (2, 2), (1, 1), (1, 2)]),
        ('two_scales', dict(strides=[16], ratios=[0.5, 1.0, 2.0], scales=[4, 8]), [(2, 3)]),
        ('center_half', dict(strides=[8], ratios=[0.5, 1.0, 2.0], scales=[8], center_offset=0.5), [(2, 2)]),
    ]
    for name, kwargs, sizes in generators:
        gen = AnchorGenerator(**kwargs)
        anchors = gen.grid_priors(sizes, device='cpu')
        for level, (size, a) in enumerate(zip(sizes, anchors)):
            stride = kwargs['strides'][level]
            out.append(dict(name='%s_stride%d' % (name, stride), stride=stride, height=size[0], width=size[1],
                            ratios=kwargs['ratios'], scales=[float(s) for s in kwargs['scales']],
                            base_size=gen.base_sizes[level], center_offset=kwargs.get('center_offset', 0.0),
                            anchors=f32(a.numpy())))
        print('anchors %-12s %s' % (name, [tuple(a.shape) for a in anchors]))
    return out


# ================================================================ deltas
def delta_cases(rng):
    out = []

    def add(name, proposals, deltas, means, stds, max_shape):
        coder = DeltaXYWHBBoxCoder(target_means=means, target_stds=stds)
        p = torch.tensor(np.asarray(proposals, np.float32))
        d = torch.tensor(np.asarray(deltas, np.float32))
        boxes = coder.decode(p, d, max_shape=max_shape)
        out.append(dict(name=name, means=list(means), stds=list(stds),
                        max_shape=None if max_shape is None else list(max_shape),
                        proposals=f32(p.numpy()), deltas=f32(d.numpy()), boxes=f32(boxes.numpy())))
        print('delta2bbox %-16s %d boxes' % (name, len(proposals)))

    def random_proposals(count, width, height):
        x1 = rng.uniform(-20, width, count)
        y1 = rng.uniform(-20, height, count)
        w = rng.uniform(0.5, width / 2, count)
        h = rng.uniform(0.5, height / 2, count)
        return np.stack([x1, y1, x1 + w, y1 + h], 1)

    props = random_proposals(12, 200, 150)
    add('rpn_stds1', props, rng.normal(0, 0.5, (12, 4)), [0., 0., 0., 0.], [1., 1., 1., 1.], (150, 200))
    add('rpn_no_clip', props, rng.normal(0, 0.5, (12, 4)), [0., 0., 0., 0.], [1., 1., 1., 1.], None)
    props = random_proposals(10, 1333, 800)
    add('rcnn_stds', props, rng.normal(0, 1.5, (10, 4)), [0., 0., 0., 0.], [0.1, 0.1, 0.2, 0.2], (800, 1333))
    add('means', props[:4], rng.normal(0, 1.0, (4, 4)), [0.01, -0.02, 0.03, 0.0], [0.1, 0.1, 0.2, 0.2], (800, 1333))
    # dw/dh beyond +-4.135 (|log(16/1000)|) are clamped, before and after the stds.
    clamp_props = [[10., 10., 30., 40.], [50., 60., 52., 61.], [0., 0., 4., 4.], [100., 100., 101., 180.],
                   [20., 30., 60., 35.]]
    clamp_deltas = [[0.1, -0.2, 10.0, -10.0], [0.0, 0.0, 50.0, 4.2], [0.5, 0.5, -4.2, 4.0],
                    [0.0, 0.0, 4.1351, -4.1352], [-0.3, 0.2, 100.0, 100.0]]
    add('clamp_stds1', clamp_props, clamp_deltas, [0., 0., 0., 0.], [1., 1., 1., 1.], None)
    add('clamp_rcnn', clamp_props, [[d[0], d[1], d[2] * 5, d[3] * 5] for d in clamp_deltas],
        [0., 0., 0., 0.], [0.1, 0.1, 0.2, 0.2], (1000, 1000))
    # Clipping: boxes past the border, some clipped to zero width or height (x1 = x2 = W, y1 = y2 = 0).
    clip_props = [[90., 10., 120., 30.], [150., 20., 170., 40.], [-30., -40., -10., -20.], [10., 95., 40., 130.],
                  [0., 0., 100., 100.], [50., 50., 50., 50.]]
    clip_deltas = [[0.2, 0.1, 0.3, 0.2], [0.0, 0.0, 0.0, 0.0], [0.1, 0.1, 0.1, 0.1], [0.0, 0.5, 0.0, 1.0],
                   [0.0, 0.0, 1.0, 1.0], [0.3, -0.3, 2.0, 2.0]]
    add('clip', clip_props, clip_deltas, [0., 0., 0., 0.], [1., 1., 1., 1.], (100, 100))
    return out


def main():
    rng = np.random.default_rng(20261204)
    mmcv_kernel = compile_mmcv_roi_align()
    data = dict(
        generator='Tests/Fixtures/detection/make_rcnn_op_fixtures.py',
        versions=dict(torch=torch.__version__, torchvision=torchvision.__version__,
                      mmdet=__import__('mmdet').__version__, numpy=np.__version__),
        roi_align=roi_align_cases(rng, mmcv_kernel),
        roi_levels=roi_level_cases(rng),
        anchors=anchor_cases(),
        delta2bbox=delta_cases(rng),
    )
    text = json.dumps(data, separators=(',', ':'))
    with open(OUT, 'w') as f:
        f.write(text + '\n')
    print('wrote %s (%d bytes)' % (os.path.relpath(OUT), len(text) + 1))


if __name__ == '__main__':
    main()
