#!/usr/bin/env python3
"""Reference numbers for the top-down pose math (Tests/PoseTests), from the formulas of the
official pose code written out here with numpy and OpenCV (cv2.getAffineTransform,
cv2.GaussianBlur): box -> center/scale, the crop transform and its inverse, heatmap decoding
(arg-max + quarter offset, and DARK), flip-back, OKS and OKS-NMS. Run:
    /tmp/py/bin/pip install numpy opencv-python-headless
    /tmp/py/bin/python Tests/Fixtures/pose/make_pose_fixtures.py
Writes pose_cases.json next to itself."""
import json, math, os
import numpy as np
import cv2

rng = np.random.RandomState(7)
out = {}

from reference_pose import box2cs, crop_transform

boxes = [[10, 20, 100, 300], [50.5, 60.25, 300, 100], [0, 0, 192, 256], [5, 7, 33, 17]]
out['boxes'] = [{'box': b, 'center': c, 'scale': s} for b in boxes for c, s in [box2cs(*b, 192 / 256)]]
out['transforms'] = []
for b in boxes:
    c, s = box2cs(*b, 192 / 256)
    for rot in (0, 30, -45):
        out['transforms'].append({'center': c, 'scale': s, 'rotation': rot, 'size': [192, 256],
                                  'forward': crop_transform(c, s, rot, (192, 256)).ravel().tolist(),
                                  'inverse': crop_transform(c, s, rot, (192, 256), True).ravel().tolist()})

# Heatmaps: Gaussian blobs (off-grid centres) plus noise; one all-negative map; one peak at the border.
N, J, H, W = 2, 5, 16, 12
hm = np.zeros((N, J, H, W), np.float32)
yy, xx = np.mgrid[0:H, 0:W]
for n in range(N):
    for j in range(J):
        cx, cy = rng.uniform(1, W - 2), rng.uniform(1, H - 2)
        hm[n, j] = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 2.0 ** 2)) + 0.01 * rng.randn(H, W)
hm[0, 3] = -np.abs(hm[0, 3]) - 0.1
hm[1, 4] = 0; hm[1, 4, 0, 5] = 0.9; hm[1, 4, 1, 5] = 0.5

def max_preds(h):
    flat = h.reshape(N, J, -1); idx = flat.argmax(2); maxv = flat.max(2)
    preds = np.stack([(idx % W), np.floor(idx / W)], -1).astype(np.float32)
    preds *= (maxv > 0)[..., None]
    return preds, maxv

crops = [box2cs(*boxes[0], 192 / 256), box2cs(*boxes[1], 192 / 256)]
coords, maxv = max_preds(hm)
std = coords.copy()
for n in range(N):
    for j in range(J):
        h = hm[n, j]; px = int(math.floor(std[n, j, 0] + 0.5)); py = int(math.floor(std[n, j, 1] + 0.5))
        if 1 < px < W - 1 and 1 < py < H - 1:
            d = np.array([h[py][px + 1] - h[py][px - 1], h[py + 1][px] - h[py - 1][px]])
            std[n, j] += np.sign(d) * .25

def dark_refine(h, coord, k=11):
    border = (k - 1) // 2
    om = h.max()
    dr = np.zeros((H + 2 * border, W + 2 * border), np.float32)
    dr[border:-border, border:-border] = h.copy()
    dr = cv2.GaussianBlur(dr, (k, k), 0)
    b = dr[border:-border, border:-border].copy()
    b *= om / b.max()
    b = np.log(np.maximum(b, 1e-10))
    px, py = int(coord[0]), int(coord[1])
    if 1 < px < W - 2 and 1 < py < H - 2:
        dx = 0.5 * (b[py][px + 1] - b[py][px - 1]); dy = 0.5 * (b[py + 1][px] - b[py - 1][px])
        dxx = 0.25 * (b[py][px + 2] - 2 * b[py][px] + b[py][px - 2])
        dxy = 0.25 * (b[py + 1][px + 1] - b[py - 1][px + 1] - b[py + 1][px - 1] + b[py - 1][px - 1])
        dyy = 0.25 * (b[py + 2][px] - 2 * b[py][px] + b[py - 2][px])
        det = dxx * dyy - dxy ** 2
        if det != 0:
            hess = np.array([[dxx, dxy], [dxy, dyy]])
            return coord - np.linalg.inv(hess) @ np.array([dx, dy])
    return coord

dark = coords.copy().astype(np.float64)
for n in range(N):
    for j in range(J):
        if hm[n, j].max() > 0:
            dark[n, j] = dark_refine(hm[n, j], coords[n, j].astype(np.float64))

def to_image(c, crop):
    t = crop_transform(crop[0], crop[1], 0, (W, H), inv=True)
    return [[float(t[0, 0] * p[0] + t[0, 1] * p[1] + t[0, 2]), float(t[1, 0] * p[0] + t[1, 1] * p[1] + t[1, 2])] for p in c]

out['decode'] = {'shape': [N, J, H, W], 'heatmaps': hm.ravel().tolist(),
                 'crops': [{'center': c, 'scale': s} for c, s in crops], 'scores': maxv.tolist(),
                 'standard': [to_image(std[n], crops[n]) for n in range(N)],
                 'dark': [to_image(dark[n], crops[n]) for n in range(N)]}

# Flip back: mirror W, swap pairs, shift right by one.
pairs = [[1, 2], [3, 4]]
f = rng.randn(N, J, H, W).astype(np.float32)
fb = f[:, :, :, ::-1].copy()
for a, b in pairs:
    tmp = fb[:, a].copy(); fb[:, a] = fb[:, b]; fb[:, b] = tmp
fb[:, :, :, 1:] = fb.copy()[:, :, :, 0:-1]
out['flip'] = {'shape': [N, J, H, W], 'pairs': pairs, 'input': f.ravel().tolist(), 'back': fb.ravel().tolist()}

# OKS-NMS on people around a few centres.
sig = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0
people = []
for k in range(12):
    base = rng.uniform(0, 200, size=2) if k % 3 == 0 else people[-1]['base']
    kp = np.concatenate([base + rng.randn(17, 2) * (3 if k % 3 else 1), rng.uniform(0, 1, (17, 1))], 1)
    people.append({'base': base, 'keypoints': kp.ravel().tolist(), 'score': float(rng.uniform()), 'area': float(rng.uniform(2000, 9000))})

def oks_iou(g, d, ag, ad, thr):
    var = (sig * 2) ** 2
    xg, yg, vg = g[0::3], g[1::3], g[2::3]
    res = []
    for n in range(d.shape[0]):
        xd, yd, vd = d[n, 0::3], d[n, 1::3], d[n, 2::3]
        e = ((xd - xg) ** 2 + (yd - yg) ** 2) / var / ((ag + ad[n]) / 2 + np.spacing(1)) / 2
        if thr is not None:
            e = e[vd > thr]   # the official `list(vg > t) and list(vd > t)` is the second list
        res.append(np.sum(np.exp(-e)) / e.shape[0] if e.shape[0] != 0 else 0.0)
    return np.array(res)

def nms(ps, thresh, thr):
    scores = np.array([p['score'] for p in ps]); kp = np.array([p['keypoints'] for p in ps]); ar = np.array([p['area'] for p in ps])
    order = scores.argsort()[::-1]; keep = []
    while order.size > 0:
        i = order[0]; keep.append(int(i))
        ov = oks_iou(kp[i], kp[order[1:]], ar[i], ar[order[1:]], thr)
        order = order[np.where(ov <= thresh)[0] + 1]
    return keep

def soft_nms(ps, thresh, thr, max_dets=20):
    scores = np.array([p['score'] for p in ps]); kp = np.array([p['keypoints'] for p in ps]); ar = np.array([p['area'] for p in ps])
    order = scores.argsort()[::-1]; scores = scores[order]; keep = []
    while order.size > 0 and len(keep) < max_dets:
        i = order[0]
        ov = oks_iou(kp[i], kp[order[1:]], ar[i], ar[order[1:]], thr)
        order = order[1:]; scores = scores[1:] * np.exp(-ov ** 2 / thresh)   # Gaussian rescore
        t = scores.argsort()[::-1]; order = order[t]; scores = scores[t]
        keep.append(int(i))
    return keep

kp = np.array([p['keypoints'] for p in people]); ar = np.array([p['area'] for p in people])
out['oks'] = {'people': [{k: v for k, v in p.items() if k != 'base'} for p in people],
              'oks_0_vs_all': oks_iou(kp[0], kp, ar[0], ar, None).tolist(),
              'oks_0_vs_all_vis': oks_iou(kp[0], kp, ar[0], ar, 0.2).tolist(),
              'nms_0.9': nms(people, 0.9, None), 'nms_0.5': nms(people, 0.5, None), 'nms_0.5_vis': nms(people, 0.5, 0.2),
              'soft_nms_0.9': soft_nms(people, 0.9, None), 'soft_nms_0.3_max5': soft_nms(people, 0.3, None, 5)}

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pose_cases.json'), 'w') as fh:
    json.dump(out, fh)
print('ok', {k: (len(v) if isinstance(v, list) else '') for k, v in out.items()})
