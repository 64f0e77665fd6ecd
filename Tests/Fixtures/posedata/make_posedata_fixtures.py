#!/usr/bin/env python3
"""Reference numbers for pose training data (Tests/PoseTrainingTests), from the formulas of the
official deep-high-resolution-net.pytorch code (lib/dataset/JointsDataset.py, coco.py, mpii.py,
lib/utils/transforms.py), written out here with numpy, OpenCV and pycocotools. The official
code draws its random numbers inside __getitem__; here they are arguments ("draws"), so the
Swift code can be fed the same values. Run:
    /tmp/py/bin/pip install numpy opencv-python-headless pycocotools
    /tmp/py/bin/python Tests/Fixtures/posedata/make_posedata_fixtures.py
Writes, next to itself: training_cases.json, training_crops.rgb, target_cases.json,
coco/ (a small keypoint file, tiny images, the expected db), mpii/ (likewise), pckh_cases.json.
"""
import json, os
import numpy as np
import cv2
from pycocotools.coco import COCO

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(11)

COCO_FLIP_PAIRS = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]]
COCO_UPPER = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
COCO_NAMES = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
              "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
              "left_knee", "right_knee", "left_ankle", "right_ankle"]


# ---- lib/utils/transforms.py --------------------------------------------------------------
def get_dir(src_point, rot_rad):
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    return [src_point[0] * cs - src_point[1] * sn, src_point[0] * sn + src_point[1] * cs]


def get_3rd_point(a, b):
    direct = a - b
    return b + np.array([-direct[1], direct[0]], dtype=np.float32)


def get_affine_transform(center, scale, rot, output_size, inv=0):
    scale_tmp = np.array(scale) * 200.0
    src_w = scale_tmp[0]
    dst_w, dst_h = output_size
    rot_rad = np.pi * rot / 180
    src_dir = get_dir([0, src_w * -0.5], rot_rad)
    dst_dir = np.array([0, dst_w * -0.5], np.float32)
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0, :] = center
    src[1, :] = np.array(center) + src_dir
    dst[0, :] = [dst_w * 0.5, dst_h * 0.5]
    dst[1, :] = np.array([dst_w * 0.5, dst_h * 0.5]) + dst_dir
    src[2:, :] = get_3rd_point(src[0, :], src[1, :])
    dst[2:, :] = get_3rd_point(dst[0, :], dst[1, :])
    if inv:
        return cv2.getAffineTransform(np.float32(dst), np.float32(src))
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


def affine_transform(pt, t):
    return np.dot(t, np.array([pt[0], pt[1], 1.0]))[:2]


def fliplr_joints(joints, joints_vis, width, matched_parts):
    joints[:, 0] = width - joints[:, 0] - 1
    for pair in matched_parts:
        joints[pair[0], :], joints[pair[1], :] = joints[pair[1], :], joints[pair[0], :].copy()
        joints_vis[pair[0], :], joints_vis[pair[1], :] = joints_vis[pair[1], :], joints_vis[pair[0], :].copy()
    return joints * joints_vis, joints_vis


# ---- lib/dataset/JointsDataset.py -----------------------------------------------------------
def half_body_transform(joints, joints_vis, upper_ids, normal_draw, aspect_ratio, num_joints):
    upper_joints, lower_joints = [], []
    for joint_id in range(num_joints):
        if joints_vis[joint_id][0] > 0:
            if joint_id in upper_ids:
                upper_joints.append(joints[joint_id])
            else:
                lower_joints.append(joints[joint_id])
    if normal_draw < 0.5 and len(upper_joints) > 2:   # official: np.random.randn() < 0.5
        selected_joints = upper_joints
    else:
        selected_joints = lower_joints if len(lower_joints) > 2 else upper_joints
    if len(selected_joints) < 2:
        return None, None
    selected_joints = np.array(selected_joints, dtype=np.float32)
    center = selected_joints.mean(axis=0)[:2]
    left_top = np.amin(selected_joints, axis=0)
    right_bottom = np.amax(selected_joints, axis=0)
    w = right_bottom[0] - left_top[0]
    h = right_bottom[1] - left_top[1]
    if w > aspect_ratio * h:
        h = w * 1.0 / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    scale = np.array([w * 1.0 / 200, h * 1.0 / 200], dtype=np.float32) * 1.5
    return center, scale


def generate_target(joints, joints_vis, image_size, heatmap_size, sigma):
    num_joints = len(joints)
    image_size, heatmap_size = np.array(image_size), np.array(heatmap_size)
    target_weight = np.ones((num_joints, 1), dtype=np.float32)
    target_weight[:, 0] = joints_vis[:, 0]
    target = np.zeros((num_joints, heatmap_size[1], heatmap_size[0]), dtype=np.float32)
    tmp_size = sigma * 3
    for joint_id in range(num_joints):
        feat_stride = image_size / heatmap_size
        mu_x = int(joints[joint_id][0] / feat_stride[0] + 0.5)
        mu_y = int(joints[joint_id][1] / feat_stride[1] + 0.5)
        ul = [int(mu_x - tmp_size), int(mu_y - tmp_size)]
        br = [int(mu_x + tmp_size + 1), int(mu_y + tmp_size + 1)]
        if ul[0] >= heatmap_size[0] or ul[1] >= heatmap_size[1] or br[0] < 0 or br[1] < 0:
            target_weight[joint_id] = 0
            continue
        size = 2 * tmp_size + 1
        x = np.arange(0, size, 1, np.float32)
        y = x[:, np.newaxis]
        x0 = y0 = size // 2
        g = np.exp(- ((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma ** 2))
        g_x = max(0, -ul[0]), min(br[0], heatmap_size[0]) - ul[0]
        g_y = max(0, -ul[1]), min(br[1], heatmap_size[1]) - ul[1]
        img_x = max(0, ul[0]), min(br[0], heatmap_size[0])
        img_y = max(0, ul[1]), min(br[1], heatmap_size[1])
        if target_weight[joint_id] > 0.5:
            target[joint_id][img_y[0]:img_y[1], img_x[0]:img_x[1]] = g[int(g_y[0]):int(g_y[1]), int(g_x[0]):int(g_x[1])]
    return target, target_weight


def get_item(rec, image_rgb, draws, cfg):
    """JointsDataset.__getitem__ (is_train) with its random numbers given as `draws`."""
    joints = rec['joints_3d'].copy()
    joints_vis = rec['joints_3d_vis'].copy()
    c = rec['center'].copy()
    s = rec['scale'].copy()
    data = image_rgb
    half = False
    if np.sum(joints_vis[:, 0]) > cfg['half_joints'] and draws['half_uniform'] < cfg['prob_half']:
        ch, sh = half_body_transform(joints, joints_vis, cfg['upper'], draws['half_normal'],
                                     cfg['image_size'][0] / cfg['image_size'][1], len(joints))
        if ch is not None and sh is not None:
            c, s, half = ch, sh, True
    sf, rf = cfg['sf'], cfg['rf']
    s = s * np.clip(draws['scale_normal'] * sf + 1, 1 - sf, 1 + sf)
    r = np.clip(draws['rotation_normal'] * rf, -rf * 2, rf * 2) if draws['rotation_uniform'] <= 0.6 else 0
    flipped = False
    if draws['flip_uniform'] <= 0.5:
        flipped = True
        data = data[:, ::-1, :]
        joints, joints_vis = fliplr_joints(joints, joints_vis, data.shape[1], cfg['pairs'])
        c[0] = data.shape[1] - c[0] - 1
    trans = get_affine_transform(c, s, r, cfg['image_size'])
    crop = cv2.warpAffine(np.ascontiguousarray(data), trans, (int(cfg['image_size'][0]), int(cfg['image_size'][1])),
                          flags=cv2.INTER_LINEAR)
    for i in range(len(joints)):
        if joints_vis[i, 0] > 0.0:
            joints[i, 0:2] = affine_transform(joints[i, 0:2], trans)
    target, target_weight = generate_target(joints, joints_vis, cfg['image_size'], cfg['heatmap_size'], cfg['sigma'])
    return dict(center=[float(v) for v in c], scale=[float(v) for v in s], rotation=float(r), flipped=flipped,
                half_body=half, transform=trans.ravel().tolist(), joints=joints[:, :2].tolist(),
                visibility=joints_vis[:, 0].tolist(), target=short(target),
                target_weight=target_weight.ravel().tolist()), crop


def short(values):
    """float32 values to 8 significant digits (exact enough for float32, half the JSON size)."""
    return [float('%.8g' % v) for v in np.asarray(values, dtype=np.float32).ravel()]


# ---- training transform cases on the imaging fixture photo (160 x 120) ----------------------
source = cv2.cvtColor(cv2.imread(os.path.join(HERE, '..', 'imaging', 'warp_source.png')), cv2.COLOR_BGR2RGB)
H, W = source.shape[:2]
cfg = dict(image_size=[48, 64], heatmap_size=[12, 16], sigma=2, sf=0.35, rf=45, prob_half=0.3, half_joints=8,
           upper=COCO_UPPER, pairs=COCO_FLIP_PAIRS)


def person(cx, cy, height, vis_pattern):
    """17 COCO joints of a standing figure of `height` px centred at (cx, cy), with visibilities."""
    rel = np.array([[0, -0.45], [0.03, -0.47], [-0.03, -0.47], [0.06, -0.46], [-0.06, -0.46],
                    [0.12, -0.33], [-0.12, -0.33], [0.16, -0.15], [-0.17, -0.16], [0.18, 0.0], [-0.2, 0.01],
                    [0.08, 0.02], [-0.08, 0.03], [0.09, 0.25], [-0.085, 0.26], [0.1, 0.46], [-0.09, 0.47]])
    joints = np.zeros((17, 3))
    joints[:, 0] = cx + rel[:, 0] * height + rng.uniform(-1, 1, 17)
    joints[:, 1] = cy + rel[:, 1] * height + rng.uniform(-1, 1, 17)
    vis = np.zeros((17, 3))
    vis[:, 0] = vis[:, 1] = vis_pattern
    joints[:, :2] *= vis[:, :2] > 0      # unlabelled joints are (0, 0) in COCO files
    return joints, vis


def box_cs(x, y, w, h, aspect):
    center = np.array([x + w * 0.5, y + h * 0.5], dtype=np.float32)
    if w > aspect * h:
        h = w * 1.0 / aspect
    elif w < aspect * h:
        w = h * aspect
    return center, np.array([w / 200.0, h / 200.0], dtype=np.float32) * 1.25


all_vis = np.ones(17)
lower_missing = np.array([1] * 11 + [0] * 6, dtype=float)
few = np.array([1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0], dtype=float)   # 9 labelled: half body allowed
sparse = np.array([0] * 5 + [1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0], dtype=float)    # 4 labelled: never half body
cases = []
crops = []
specs = [
    # (person, draws): plain, flip only, rotation+scale, rotation+scale+flip, half body upper / lower, clipped scale
    ((80, 60, 90, all_vis), dict(half_uniform=0.9, half_normal=0.0, scale_normal=0.0, rotation_uniform=0.9, rotation_normal=0.0, flip_uniform=0.9)),
    ((80, 60, 90, all_vis), dict(half_uniform=0.9, half_normal=0.0, scale_normal=0.0, rotation_uniform=0.9, rotation_normal=0.0, flip_uniform=0.2)),
    ((70, 65, 80, all_vis), dict(half_uniform=0.9, half_normal=0.0, scale_normal=0.7, rotation_uniform=0.3, rotation_normal=0.5, flip_uniform=0.8)),
    ((90, 55, 100, few), dict(half_uniform=0.5, half_normal=0.0, scale_normal=-0.6, rotation_uniform=0.6, rotation_normal=-0.8, flip_uniform=0.5)),
    ((85, 60, 95, all_vis), dict(half_uniform=0.1, half_normal=0.2, scale_normal=0.3, rotation_uniform=0.9, rotation_normal=0.0, flip_uniform=0.9)),
    ((85, 60, 95, all_vis), dict(half_uniform=0.1, half_normal=1.3, scale_normal=0.0, rotation_uniform=0.1, rotation_normal=1.5, flip_uniform=0.1)),
    ((75, 62, 85, lower_missing), dict(half_uniform=0.05, half_normal=2.0, scale_normal=5.0, rotation_uniform=0.2, rotation_normal=-3.0, flip_uniform=0.3)),
    ((60, 58, 70, sparse), dict(half_uniform=0.0, half_normal=0.0, scale_normal=-5.0, rotation_uniform=0.0, rotation_normal=1.0, flip_uniform=0.4)),
    ((150, 110, 120, few), dict(half_uniform=0.2, half_normal=-1.0, scale_normal=0.1, rotation_uniform=0.5, rotation_normal=0.3, flip_uniform=0.0)),
]
for (cx, cy, height, vis_pattern), draws in specs:
    joints, vis = person(cx, cy, height, vis_pattern)
    xs, ys = joints[vis[:, 0] > 0, 0], joints[vis[:, 0] > 0, 1]
    c, s = box_cs(xs.min() - 5, ys.min() - 5, xs.max() - xs.min() + 10, ys.max() - ys.min() + 10, 48 / 64)
    rec = dict(joints_3d=joints, joints_3d_vis=vis, center=c, scale=s)
    out, crop = get_item(rec, source, draws, cfg)
    out.update(sample_center=[float(v) for v in c], sample_scale=[float(v) for v in s],
               sample_joints=joints[:, :2].tolist(), sample_visibility=vis[:, 0].tolist(), draws=draws)
    cases.append(out)
    crops.append(crop)
with open(os.path.join(HERE, 'training_cases.json'), 'w') as f:
    json.dump(dict(image_size=cfg['image_size'], heatmap_size=cfg['heatmap_size'], sigma=cfg['sigma'],
                   scale_factor=cfg['sf'], rotation_factor=cfg['rf'], image_width=W, cases=cases), f)
np.concatenate([c.ravel() for c in crops]).astype(np.uint8).tofile(os.path.join(HERE, 'training_crops.rgb'))

# ---- Gaussian targets near and beyond the heatmap border ------------------------------------
target_cases = []
joints = np.array([[40, 50], [1, 1], [-3, 60], [-25, 60], [-26, 60], [-28, 60], [95, 127], [119, 64],
                   [120, 64], [121, 64], [140, 64], [48, -30], [48, 154], [48, 160], [-1.9, -1.9], [30.2, 70.9],
                   [60, 60]], dtype=float)
vis = np.ones((17, 3))
vis[16] = 0
for sigma in (2, 3, 1.5):
    target, weight = generate_target(joints, vis, [96, 128], [24, 32], sigma)
    target_cases.append(dict(sigma=sigma, target=short(target), target_weight=weight.ravel().tolist()))
with open(os.path.join(HERE, 'target_cases.json'), 'w') as f:
    json.dump(dict(image_size=[96, 128], heatmap_size=[24, 32], joints=joints.tolist(),
                   visibility=vis[:, 0].tolist(), cases=target_cases), f)

# ---- COCO db (coco.py _load_coco_keypoint_annotation_kernal) ---------------------------------
os.makedirs(os.path.join(HERE, 'coco', 'images'), exist_ok=True)
images = [dict(id=9, file_name='000000000009.jpg', width=64, height=48),
          dict(id=2, file_name='000000000002.jpg', width=40, height=56),
          dict(id=5, file_name='000000000005.jpg', width=50, height=50)]


def kp(points, v):
    out = []
    for (x, y), vv in zip(points, v):
        out += [float(x), float(y), vv] if vv > 0 else [0, 0, 0]
    return out


def pts(n=17, x0=5, y0=5, x1=35, y1=40):
    return list(zip(rng.uniform(x0, x1, n).round(2), rng.uniform(y0, y1, n).round(2)))


v_mixed = [2, 2, 1, 0, 2, 2, 2, 1, 1, 2, 0, 2, 2, 1, 2, 0, 0]
anns = [
    dict(id=1, image_id=9, category_id=1, bbox=[4.5, 3.0, 30.0, 40.0], area=900.0, iscrowd=0, keypoints=kp(pts(), v_mixed), num_keypoints=13),
    dict(id=2, image_id=9, category_id=1, bbox=[50.0, 10.0, 30.0, 50.0], area=500.0, iscrowd=0, keypoints=kp(pts(x0=50, x1=63), [2] * 17), num_keypoints=17),
    dict(id=3, image_id=9, category_id=1, bbox=[10.0, 10.0, 20.0, 20.0], area=400.0, iscrowd=1, keypoints=kp(pts(), [2] * 17), num_keypoints=17),
    dict(id=4, image_id=9, category_id=1, bbox=[10.0, 10.0, 20.0, 20.0], area=0.0, iscrowd=0, keypoints=kp(pts(), [2] * 17), num_keypoints=17),
    dict(id=5, image_id=2, category_id=1, bbox=[-5.0, -3.0, 20.0, 30.0], area=300.0, iscrowd=0, keypoints=kp(pts(x1=14, y1=26), [1] * 17), num_keypoints=17),
    dict(id=6, image_id=2, category_id=1, bbox=[3.0, 4.0, 10.0, 10.0], area=80.0, iscrowd=0, keypoints=[0] * 51, num_keypoints=0),
    dict(id=7, image_id=2, category_id=1, bbox=[45.0, 4.0, 10.0, 10.0], area=80.0, iscrowd=0, keypoints=kp(pts(), [2] * 17), num_keypoints=17),
    dict(id=8, image_id=2, category_id=2, bbox=[3.0, 4.0, 10.0, 10.0], area=80.0, iscrowd=0, keypoints=kp(pts(), [2] * 17), num_keypoints=17),
    dict(id=9, image_id=5, category_id=1, bbox=[10.0, 5.0, 0.5, 40.0], area=20.0, iscrowd=0, keypoints=kp(pts(x0=10, x1=11), [0] * 5 + [2] * 12), num_keypoints=12),
    dict(id=10, image_id=5, category_id=1, bbox=[0.0, 0.0, 49.0, 49.0], area=2401.0, iscrowd=0, keypoints=kp(pts(x1=48, y1=48), [2] * 17), num_keypoints=17),
]
categories = [dict(id=1, name='person', supercategory='person', keypoints=COCO_NAMES,
                   skeleton=[[16, 14], [14, 12], [17, 15], [15, 13], [12, 13]]),
              dict(id=2, name='robot', supercategory='robot', keypoints=COCO_NAMES, skeleton=[])]
ann_file = os.path.join(HERE, 'coco', 'person_keypoints_mini.json')
with open(ann_file, 'w') as f:
    json.dump(dict(images=images, annotations=anns, categories=categories), f)
for im in images:
    pixels = (rng.uniform(0, 255, (im['height'], im['width'], 3))).astype(np.uint8)
    cv2.imwrite(os.path.join(HERE, 'coco', 'images', im['file_name']), pixels, [cv2.IMWRITE_JPEG_QUALITY, 60])

coco = COCO(ann_file)
cats = [cat['name'] for cat in coco.loadCats(coco.getCatIds())]
classes = ['__background__'] + cats
class_to_ind = dict(zip(classes, range(len(classes))))
coco_ind_to_class_ind = {coco.getCatIds()[i]: class_to_ind[c] for i, c in enumerate(cats)}
db = []
for index in coco.getImgIds():
    im_ann = coco.loadImgs(index)[0]
    width, height = im_ann['width'], im_ann['height']
    objs = coco.loadAnns(coco.getAnnIds(imgIds=index, iscrowd=False))
    valid = []
    for obj in objs:
        x, y, w, h = obj['bbox']
        x1 = np.max((0, x)); y1 = np.max((0, y))
        x2 = np.min((width - 1, x1 + np.max((0, w - 1))))
        y2 = np.min((height - 1, y1 + np.max((0, h - 1))))
        if obj['area'] > 0 and x2 >= x1 and y2 >= y1:
            obj['clean_bbox'] = [x1, y1, x2 - x1, y2 - y1]
            valid.append(obj)
    for obj in valid:
        if coco_ind_to_class_ind[obj['category_id']] != 1:
            continue
        if max(obj['keypoints']) == 0:
            continue
        k = np.array(obj['keypoints'], dtype=float).reshape(17, 3)
        c, s = box_cs(*obj['clean_bbox'], 192 / 256)
        db.append(dict(annotation_id=obj['id'], image_id=index, file_name=im_ann['file_name'],
                       center=[float(v) for v in c], scale=[float(v) for v in s],
                       joints=k[:, :2].tolist(), visibility=np.minimum(k[:, 2], 1).tolist()))
with open(os.path.join(HERE, 'coco', 'expected_db.json'), 'w') as f:
    json.dump(dict(aspect_ratio=192 / 256, db=db), f)

# ---- MPII db (mpii.py _get_db) ---------------------------------------------------------------
os.makedirs(os.path.join(HERE, 'mpii', 'images'), exist_ok=True)
mpii = []
for i, (name, scale) in enumerate([('a.jpg', 1.7), ('b.jpg', 0.83), ('a.jpg', 2.25)]):
    joints = rng.uniform(1, 60, (16, 2)).round(1)
    vis = (rng.uniform(size=16) > 0.25).astype(int)
    mpii.append(dict(image=name, center=[float(v) for v in rng.uniform(20, 40, 2).round(1)], scale=scale,
                     joints=joints.tolist(), joints_vis=vis.tolist()))
mpii.append(dict(image='b.jpg', center=[-1.0, -1.0], scale=1.0, joints=[[-1.0, -1.0]] * 16, joints_vis=[0] * 16))
with open(os.path.join(HERE, 'mpii', 'train.json'), 'w') as f:
    json.dump(mpii, f)
for name in ('a.jpg', 'b.jpg'):
    cv2.imwrite(os.path.join(HERE, 'mpii', 'images', name), rng.uniform(0, 255, (64, 64, 3)).astype(np.uint8))
expected = []
for a in mpii:
    c = np.array(a['center'], dtype=float)
    s = np.array([a['scale'], a['scale']], dtype=float)
    if c[0] != -1:
        c[1] = c[1] + 15 * s[1]
        s = s * 1.25
    c = c - 1
    joints = np.array(a['joints'], dtype=float)
    joints[:, 0:2] = joints[:, 0:2] - 1
    expected.append(dict(center=c.tolist(), scale=s.tolist(), joints=joints.tolist(),
                         visibility=[float(v) for v in a['joints_vis']]))
with open(os.path.join(HERE, 'mpii', 'expected_db.json'), 'w') as f:
    json.dump(expected, f)

# ---- PCKh (mpii.py evaluate: SC_BIAS 0.6, threshold 0.5) -------------------------------------
N = 40
pos_gt_src = rng.uniform(20, 300, (16, 2, N))
head_tl = rng.uniform(50, 200, (2, N))
head_size = rng.uniform(20, 60, N)
headboxes_src = np.stack([head_tl, head_tl + np.stack([head_size * 0.8, head_size * 1.1])])   # (2, 2, N)
noise = rng.randn(16, 2, N) * (head_size * 0.6 * 0.3)[None, None, :]
pos_pred_src = pos_gt_src + noise
jnt_missing = (rng.uniform(size=(16, N)) < 0.15).astype(int)
jnt_visible = 1 - jnt_missing
uv_err = np.linalg.norm(pos_pred_src - pos_gt_src, axis=1)
headsizes = np.linalg.norm(headboxes_src[1, :, :] - headboxes_src[0, :, :], axis=0) * 0.6
scale = np.multiply(headsizes, np.ones((len(uv_err), 1)))
scaled_uv_err = np.multiply(np.divide(uv_err, scale), jnt_visible)
jnt_count = np.sum(jnt_visible, axis=1)
PCKh = np.divide(100. * np.sum(np.multiply(scaled_uv_err <= 0.5, jnt_visible), axis=1), jnt_count)
rng_t = np.arange(0, 0.5 + 0.01, 0.01)
pckAll = np.zeros((len(rng_t), 16))
for r in range(len(rng_t)):
    pckAll[r, :] = np.divide(100. * np.sum(np.multiply(scaled_uv_err <= rng_t[r], jnt_visible), axis=1), jnt_count)
PCKh = np.ma.array(PCKh, mask=False)
PCKh.mask[6:8] = True
jnt_count = np.ma.array(jnt_count, mask=False)
jnt_count.mask[6:8] = True
jnt_ratio = jnt_count / np.sum(jnt_count).astype(np.float64)
head, lsho, lelb, lwri, lhip, lkne, lank = 9, 13, 14, 15, 3, 4, 5
rsho, relb, rwri, rkne, rank, rhip = 12, 11, 10, 1, 0, 2
groups = [('Head', PCKh[head]), ('Shoulder', 0.5 * (PCKh[lsho] + PCKh[rsho])), ('Elbow', 0.5 * (PCKh[lelb] + PCKh[relb])),
          ('Wrist', 0.5 * (PCKh[lwri] + PCKh[rwri])), ('Hip', 0.5 * (PCKh[lhip] + PCKh[rhip])),
          ('Knee', 0.5 * (PCKh[lkne] + PCKh[rkne])), ('Ankle', 0.5 * (PCKh[lank] + PCKh[rank])),
          ('Mean', np.sum(PCKh * jnt_ratio)), ('Mean@0.1', np.sum(pckAll[11, :] * jnt_ratio))]
with open(os.path.join(HERE, 'pckh_cases.json'), 'w') as f:
    json.dump(dict(predictions=np.transpose(pos_pred_src, [2, 0, 1]).tolist(),
                   ground_truth=np.transpose(pos_gt_src, [2, 0, 1]).tolist(),
                   visible=jnt_visible.T.tolist(),
                   head_boxes=np.transpose(headboxes_src, [2, 0, 1]).reshape(N, 4).tolist(),
                   per_joint=np.ma.getdata(PCKh).tolist(), joint_count=np.ma.getdata(jnt_count).tolist(),
                   groups=[[n, float(v)] for n, v in groups]), f)
print('written to', HERE)
