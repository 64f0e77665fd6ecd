#!/usr/bin/env python3
"""giou.json: mmdetection 3.3.0's GIoULoss (mmdet/models/losses/iou_loss.py, bbox_overlaps mode 'giou')
on boxes built as FCOS builds them (a point and left/top/right/bottom distances, decoded by
DistancePointBBoxCoder without max shape), with the gradient of the loss with respect to the
predicted distances by autograd. Run from the repository root with the venv of
../make_detection_fixtures.py:

    /work/venv-det/bin/python Tests/Fixtures/detection/training/make_giou_fixture.py

Float32 like a training run; one CPU thread; re-running changes no bytes. (mmcv-lite has no compiled
ops: ../make_detection_fixtures.py's `mmcv._ext` stand-in is imported first, as the other scripts do.)
"""
import json
import os
import sys
import torch
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import make_detection_fixtures  # noqa: E402,F401  (registers its mmcv._ext stand-in: mmcv-lite has no compiled ops)
from mmdet.models.losses import GIoULoss
from mmdet.models.task_modules.coders import DistancePointBBoxCoder
from mmdet.structures.bbox import bbox_overlaps

torch.set_num_threads(1)
# (point, predicted ltrb, target ltrb): overlapping, nested either way, disjoint (two), identical,
# thin, and random ones.
cases = [((40., 24.), (10., 6., 12., 9.), (8., 5., 15., 11.)),
         ((40., 24.), (3., 2., 4., 3.), (12., 10., 14., 9.)),
         ((40., 24.), (20., 16., 22., 18.), (5., 4., 6., 5.)),
         ((40., 24.), (-10., 2., 14., 3.), (4., 5., 2., 6.)),
         ((12., 60.), (2., -20., 3., 28.), (6., 7., 5., 8.)),
         ((100., 80.), (7., 7., 7., 7.), (7., 7., 7., 7.)),
         ((100., 80.), (0.5, 30., 0.7, 25.), (2., 28., 3., 31.))]
g = torch.Generator().manual_seed(3)
for _ in range(6):
    p = (float(torch.randint(0, 300, (1,), generator=g)), float(torch.randint(0, 200, (1,), generator=g)))
    t = (torch.rand(4, generator=g) * 60 + 1).tolist()
    d = [v * float(torch.empty(1).uniform_(0.5, 1.6, generator=g)) for v in t]
    cases.append((p, tuple(d), tuple(t)))

coder = DistancePointBBoxCoder()
loss_fn = GIoULoss(eps=1e-6, reduction='none', loss_weight=1.0)
out = []
for point, pred, target in cases:
    pts = torch.tensor([point], dtype=torch.float32)
    d = torch.tensor([pred], dtype=torch.float32, requires_grad=True)
    t = torch.tensor([target], dtype=torch.float32)
    pb, tb = coder.decode(pts, d), coder.decode(pts, t)
    loss = loss_fn(pb, tb)
    loss.sum().backward()
    iou = bbox_overlaps(pb.detach(), tb, mode='iou', is_aligned=True)
    out.append({'point': list(point), 'pred': [float(v) for v in d[0].detach()], 'target': [float(v) for v in t[0]],
                'loss': float(loss[0]), 'grad': [float(v) for v in d.grad[0]], 'iou': float(iou[0])})
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'giou.json')
with open(path, 'w') as f:
    json.dump(out, f, indent=1)
print('wrote', path, len(out), 'cases;', sum(c['iou'] == 0 for c in out), 'disjoint')
