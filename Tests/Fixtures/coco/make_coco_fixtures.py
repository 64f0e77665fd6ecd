#!/usr/bin/env python3
"""Synthetic COCO ground truth and results, and pycocotools' summary numbers for them
(Tests/DatasetsTests). Cases: crowd regions, people without labelled keypoints, images with
more than 20 (keypoints) or 100 (bbox) detections, tied scores, all area ranges, images
without ground truth, a second category for bbox. Also `--big DIR` writes a set the size of
COCO val2017 (5000 images, 6352 people, ~100k detections) for timing.
    /tmp/py/bin/pip install numpy pycocotools
    /tmp/py/bin/python Tests/Fixtures/coco/make_coco_fixtures.py [--big DIR]"""
import argparse, contextlib, io, json, os, time
import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

def make(n_images, people_per_image, dets_per_person, extra_dets, seed):
    rng = np.random.RandomState(seed)
    images, anns, kp_res, box_res = [], [], [], []
    ann_id = 1
    cats = [{'id': 1, 'name': 'person', 'supercategory': 'person',
             'keypoints': ['k%d' % i for i in range(17)], 'skeleton': [[1, 2], [2, 3]]},
            {'id': 2, 'name': 'ball', 'supercategory': 'thing'}]
    for im in range(1, n_images + 1):
        images.append({'id': im * 3, 'file_name': '%012d.jpg' % (im * 3), 'width': 640, 'height': 480})
        n = rng.randint(0, people_per_image + 1) if im % 7 else 0
        for p in range(n):
            size = rng.choice([20, 50, 120, 250])      # small / medium / large areas
            w, h = size * rng.uniform(0.5, 1.0), size * rng.uniform(1.0, 1.8)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            kx = x + rng.uniform(0, w, 17); ky = y + rng.uniform(0, h, 17)
            v = rng.choice([0, 1, 2], 17, p=[0.3, 0.2, 0.5])
            if rng.uniform() < 0.1: v[:] = 0          # a person with no labelled keypoint
            crowd = int(rng.uniform() < 0.05)
            kp = np.stack([kx * (v > 0), ky * (v > 0), v], 1).ravel()
            area = float(w * h * rng.uniform(0.5, 0.9))
            cat = 2 if rng.uniform() < 0.15 else 1
            a = {'id': ann_id, 'image_id': im * 3, 'category_id': cat, 'bbox': [x, y, w, h], 'area': area,
                 'iscrowd': crowd, 'num_keypoints': int((v > 0).sum())}
            if cat == 1: a['keypoints'] = [float(t) if i % 3 != 2 else int(t) for i, t in enumerate(kp)]
            anns.append(a); ann_id += 1
            for d in range(dets_per_person):
                jitter = rng.uniform(1, 15) * (d + 1)
                score = float(np.round(rng.uniform(0.1, 1.0), 2))   # rounding makes ties
                bx = [x + rng.randn() * jitter * 0.3, y + rng.randn() * jitter * 0.3, w * rng.uniform(0.8, 1.2), h * rng.uniform(0.8, 1.2)]
                box_res.append({'image_id': im * 3, 'category_id': cat, 'bbox': bx, 'score': score})
                if cat == 1:
                    dk = np.stack([kx + rng.randn(17) * jitter * 0.2, ky + rng.randn(17) * jitter * 0.2, rng.uniform(0, 1, 17)], 1)
                    kp_res.append({'image_id': im * 3, 'category_id': 1, 'keypoints': dk.ravel().tolist(), 'score': score})
        for e in range(extra_dets if im % 5 == 0 else 0):     # many false positives in some images
            x, y = rng.uniform(0, 600), rng.uniform(0, 440)
            score = float(np.round(rng.uniform(0, 0.5), 2))
            box_res.append({'image_id': im * 3, 'category_id': 1, 'bbox': [x, y, rng.uniform(5, 200), rng.uniform(5, 200)], 'score': score})
            kp_res.append({'image_id': im * 3, 'category_id': 1, 'keypoints': (np.stack([x + rng.uniform(0, 80, 17), y + rng.uniform(0, 80, 17), rng.uniform(0, 1, 17)], 1)).ravel().tolist(), 'score': score})
    gt = {'images': images, 'annotations': anns, 'categories': cats}
    return gt, kp_res, box_res

def stats(gt_path, dt_path, iou_type):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path); dt = gt.loadRes(dt_path)
        e = COCOeval(gt, dt, iou_type); e.evaluate(); e.accumulate(); e.summarize()
    return [float(s) for s in e.stats]

def write(d, name, obj):
    with open(os.path.join(d, name), 'w') as f:
        json.dump(obj, f)

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--big')
    a = ap.parse_args()
    if a.big:
        os.makedirs(a.big, exist_ok=True)
        gt, kp, box = make(5000, 3, 6, 40, 11)
        write(a.big, 'gt.json', gt); write(a.big, 'dt_keypoints.json', kp); write(a.big, 'dt_bbox.json', box)
        print('people', sum(1 for x in gt['annotations'] if x['category_id'] == 1), 'keypoint results', len(kp))
        for t, f in (('keypoints', 'dt_keypoints.json'), ('bbox', 'dt_bbox.json')):
            t0 = time.time(); s = stats(os.path.join(a.big, 'gt.json'), os.path.join(a.big, f), t)
            print(t, 'pycocotools seconds %.2f' % (time.time() - t0), s)
        return
    d = os.path.dirname(os.path.abspath(__file__))
    gt, kp, box = make(60, 4, 3, 30, 3)
    write(d, 'gt.json', gt); write(d, 'dt_keypoints.json', kp); write(d, 'dt_bbox.json', box)
    expected = {'keypoints': stats(os.path.join(d, 'gt.json'), os.path.join(d, 'dt_keypoints.json'), 'keypoints'),
                'bbox': stats(os.path.join(d, 'gt.json'), os.path.join(d, 'dt_bbox.json'), 'bbox')}
    write(d, 'expected_stats.json', expected)
    print(expected)

if __name__ == '__main__':
    main()
