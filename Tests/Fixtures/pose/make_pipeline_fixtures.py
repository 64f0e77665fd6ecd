#!/usr/bin/env python3
"""End-to-end references for the top-down pose pipeline (Tests/PoseTests/PosePipelineTests):
the tiny pose model of Tests/Fixtures/hrnet on the committed photo Tests/Fixtures/imaging/person.jpg
with a few boxes, through the official test pipeline (reference_pose.py), with and without flip
test. Run from the repository root:
    /tmp/py/bin/pip install torch numpy opencv-python-headless pyyaml safetensors
    /tmp/py/bin/python Tests/Fixtures/pose/make_pipeline_fixtures.py
Writes pipeline_cases.json next to itself. The boxes are checked to decode far from any tie
(arg-max gap and neighbour differences), so a last-bit difference cannot move a keypoint."""
import json, os, sys
import cv2
import numpy as np
import torch
import yaml
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.dirname(HERE)
sys.path.insert(0, FIXTURES)
from make_fixtures import HRNet  # the independent PyTorch HRNet with the official key names
from reference_pose import estimate, margins

torch.set_num_threads(1)
cfg = yaml.safe_load(open(os.path.join(FIXTURES, 'hrnet', 'tiny_pose.yaml')))
model = HRNet(cfg).eval()
model.load_state_dict(load_file(os.path.join(FIXTURES, 'hrnet', 'tiny_pose.safetensors')))
size = cfg['MODEL']['IMAGE_SIZE']  # [w, h]
pairs = [[1, 2], [3, 4]]           # the tiny model's 5 joints: 0 alone, (1,2) and (3,4) left/right

image = 'imaging/person.jpg'
bgr = cv2.imread(os.path.join(FIXTURES, image), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
H, W = rgb.shape[:2]
# Candidate boxes (the whole image, people-sized boxes, one reaching outside the image); the first
# four whose every joint decodes far from a tie, with and without flip, are kept.
rng = np.random.RandomState(5)
candidates = [[0, 0, W, H], [W * 0.8, -H * 0.05, W * 0.3, H * 0.5]] + [
    [float(rng.uniform(-0.1, 0.7) * W), float(rng.uniform(-0.1, 0.5) * H), float(rng.uniform(0.15, 0.5) * W),
     float(rng.uniform(0.3, 0.9) * H)] for _ in range(40)]
boxes = []
for b in candidates:
    ok = True
    for flip in (False, True):
        _, hm, _ = estimate(model, rgb, [b], size, pairs, flip)
        gap, small = margins(hm)
        ok = ok and gap > 1e-3 and small > 1e-3
    if ok:
        boxes.append(b)
    if len(boxes) == 4:
        break
assert len(boxes) == 4, 'too few boxes decode far from a tie'
out = {'image': image, 'pairs': pairs, 'boxes': boxes, 'cases': []}
for flip in (False, True):
    kp, hm, cs = estimate(model, rgb, boxes, size, pairs, flip)
    gap, small = margins(hm)
    print('flip %-5s arg-max gap %.2e, smallest neighbour difference %.2e (heatmap std %.2f)' % (flip, gap, small, hm.std()))
    assert gap > 1e-3 and small > 1e-3, 'a joint decodes near a tie: pick other boxes'
    out['cases'].append({'flip': flip, 'keypoints': kp.tolist(),
                         'centers': [c for c, _ in cs], 'scales': [s for _, s in cs]})
with open(os.path.join(HERE, 'pipeline_cases.json'), 'w') as fh:
    json.dump(out, fh)
print('wrote pipeline_cases.json')
