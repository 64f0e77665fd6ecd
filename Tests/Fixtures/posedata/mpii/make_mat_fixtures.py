#!/usr/bin/env python3
"""MAT-file fixtures for the MAT reader (Tests/DatasetsTests/MATFileTests) and the MPII
evaluation (PCKh from annot/gt_valid.mat, as lib/dataset/mpii.py `evaluate` of the official
deep-high-resolution-net.pytorch computes it, reimplemented here in numpy). Run:
    python3 Tests/Fixtures/posedata/mpii/make_mat_fixtures.py      (numpy, scipy)
Writes into mat/ next to itself:
- arrays_v6.mat, arrays_v7.mat: scipy.io.savemat of many classes and shapes, uncompressed
  and compressed (v7 adds `zeros`, 300x200); arrays.json: each variable's class, logical flag, dimensions and values
  (column-major, as MATLAB stores them; complex as [re, im]; char arrays as strings).
- matlab_style_le.mat (little endian, every variable miCOMPRESSED as `save -v7` writes) and
  matlab_style_be.mat (big endian, uncompressed): written by hand below the way MATLAB stores
  data and scipy never does (doubles in the smallest integer type that holds them, chars as
  miUINT16, the small data element format for short names and data); loadmat checks them.
- gt_valid.mat (compressed), gt_valid_v6.mat (uncompressed) and gt_valid_matlab_be.mat (by
  hand, MATLAB style): the official variables (dataset_joints, jnt_missing, pos_gt_src,
  headboxes_src) for the fixture people of ../mpii/train.json, in its order;
  gt_synthetic.mat: 50 random people. pckh.json: per file, predictions (0-based, as the
  network gives them) and the official evaluate's numbers.
- zeros_4mb.zlib, double_element.zlib: zlib streams for the hostile-file tests.
"""
import json, os, struct, zlib
import numpy as np
import scipy.io as sio

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'mat')
os.makedirs(OUT, exist_ok=True)
rng = np.random.RandomState(5)

# ---- scipy.io.savemat of many classes --------------------------------------------------------
cell = np.empty((1, 3), dtype=object)
cell[0, 0] = 'abc'
cell[0, 1] = np.array([[1.5, -2.0]])
inner = np.empty((2, 1), dtype=object)
inner[0, 0] = np.int16([[7]])
inner[1, 0] = 'x'
cell[0, 2] = inner
arrays = {
    'd': np.array([[1.0, 2.5, -3.25], [4.0, 1e300, -0.0]]),
    's': np.float32([[0.5, -1.25, 3.0e20]]),
    'i8': np.int8([[-128, 0, 127]]), 'u8': np.uint8([[0, 255]]),
    'i16': np.int16([[-32768, 32767]]), 'u16': np.uint16([[65535, 1]]),
    'i32': np.int32([[-2147483648, 2147483647]]), 'u32': np.uint32([[4294967295, 0]]),
    'i64': np.int64([[-(2 ** 53), 2 ** 53]]), 'u64': np.uint64([[2 ** 53, 3]]),
    'flags': np.array([[True, False, True]]),
    'z': np.array([[1 + 2j, -3j], [0.5, 4 - 1j]]),
    'nd': np.arange(24, dtype=float).reshape(2, 3, 4),
    'column': np.arange(5, dtype=float).reshape(5, 1),
    'text': 'hello wörld ✓',
    'names': np.array(['ab', 'cd', 'ef']),     # a 3x2 char matrix
    'empty': np.zeros((0, 3)),
    'cell': cell,
    'person': {'age': 3.0, 'name': 'x'},       # a struct: skipped by the reader
}
sio.savemat(os.path.join(OUT, 'arrays_v6.mat'), arrays, do_compression=False)
# Compressed only: 300x200 zeros inflate to 480 kB (many zlib output chunks) from a few hundred bytes.
sio.savemat(os.path.join(OUT, 'arrays_v7.mat'), dict(arrays, zeros=np.zeros((300, 200))), do_compression=True)


def describe(v):
    """What the Swift reader should give for a loadmat value."""
    if isinstance(v, np.ndarray) and v.dtype == object:
        return dict(cls='cell', dims=list(v.shape), cells=[describe(c) for c in v.flatten(order='F')])
    if isinstance(v, np.ndarray) and v.dtype.kind == 'U':
        if v.shape == (1,) or v.ndim == 1 and v.size == 1:
            return dict(cls='char', string=str(v[0]))
        return dict(cls='char', rows=[str(s) for s in v])
    if isinstance(v, np.ndarray) and v.dtype.names:
        return dict(cls='struct')
    kind = {'f8': 'double', 'f4': 'single', 'i1': 'int8', 'u1': 'uint8', 'i2': 'int16', 'u2': 'uint16', 'i4': 'int32',
            'u4': 'uint32', 'i8': 'int64', 'u8': 'uint64', 'c16': 'double', 'b1': 'uint8'}[v.dtype.str[1:]]
    flat = v.flatten(order='F')
    d = dict(cls=kind, dims=list(v.shape), logical=v.dtype == bool)
    if np.iscomplexobj(v):
        d['real'], d['imaginary'] = [float(x) for x in flat.real], [float(x) for x in flat.imag]
    else:
        d['real'] = [float(x) for x in flat]
    return d


loaded = sio.loadmat(os.path.join(OUT, 'arrays_v6.mat'), mat_dtype=False)
expected = {k: describe(loaded[k]) for k in arrays}
expected['text'] = dict(cls='char', string=arrays['text'], dims=[1, len(arrays['text'])])
expected['names'] = dict(cls='char', rows=['ab', 'cd', 'ef'], dims=[3, 2])
expected['flags']['logical'] = True   # savemat writes bool as uint8 with the logical flag; loadmat drops it
with open(os.path.join(OUT, 'arrays.json'), 'w') as f:
    json.dump(dict(order=list(arrays), variables=expected), f, separators=(',', ':'))


# ---- MAT-files written as MATLAB writes them ---------------------------------------------------
class MatlabStyle:
    """A level 5 writer for double, char and cell arrays in MATLAB's own storage choices."""
    mi = dict(int8=1, uint8=2, int16=3, uint16=4, int32=5, uint32=6, double=9, matrix=14, compressed=15)

    def __init__(self, big_endian):
        self.e = '>' if big_endian else '<'

    def element(self, mtype, payload):
        if len(payload) <= 4:   # small data element: size and type in one word
            return struct.pack(self.e + 'I', (len(payload) << 16) | mtype) + payload.ljust(4, b'\0')
        return struct.pack(self.e + 'II', mtype, len(payload)) + payload + b'\0' * (-len(payload) % 8)

    def matrix(self, name, value):
        if isinstance(value, str):
            value = np.array([[ord(c) for c in value]], dtype=np.uint16)
            cls, data = 4, self.element(self.mi['uint16'], value.flatten(order='F').astype(self.e + 'u2').tobytes())
        elif isinstance(value, np.ndarray) and value.dtype == object:
            cls, data = 1, b''.join(self.matrix('', c) for c in value.flatten(order='F'))
        else:
            value = np.asarray(value, dtype=float)
            flat = value.flatten(order='F')
            # MATLAB keeps doubles that are small whole numbers in a narrower integer type.
            if flat.size and np.all(flat == np.round(flat)) and flat.min() >= 0 and flat.max() < 256:
                data = self.element(self.mi['uint8'], flat.astype(np.uint8).tobytes())
            elif flat.size and np.all(flat == np.round(flat)) and abs(flat).max() < 32768:
                data = self.element(self.mi['int16'], flat.astype(self.e + 'i2').tobytes())
            else:
                data = self.element(self.mi['double'], flat.astype(self.e + 'f8').tobytes())
            cls = 6
        shape = value.shape
        flags = self.element(self.mi['uint32'], struct.pack(self.e + 'II', cls, 0))
        dims = self.element(self.mi['int32'], struct.pack(self.e + '%di' % len(shape), *shape))
        body = flags + dims + self.element(self.mi['int8'], name.encode()) + data
        return struct.pack(self.e + 'II', self.mi['matrix'], len(body)) + body

    def write(self, path, variables, compress):
        text = b'MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018'
        header = text.ljust(116, b' ') + b'\0' * 8 + struct.pack(self.e + 'H', 0x0100) + (b'MI' if self.e == '>' else b'IM')
        body = b''
        for name, value in variables.items():
            m = self.matrix(name, value)
            body += struct.pack(self.e + 'II', self.mi['compressed'], len(zlib.compress(m))) + zlib.compress(m) if compress else m
        with open(path, 'wb') as f:
            f.write(header + body)


names_cell = np.empty((1, 3), dtype=object)
names_cell[0, :] = ['rank', 'head', 'x']
matlab_vars = {'whole': np.array([[1.0, 2.0, 255.0], [0.0, 7.0, 9.0]]), 'signed': np.array([[-5.0, 300.0]]),
               'frac': np.array([[0.25], [-1.5]]), 'word': 'héllo', 'joints': names_cell,
               'cube': np.arange(12, dtype=float).reshape(3, 2, 2) * 0.5}
for name, big, compress in [('matlab_style_le.mat', False, True), ('matlab_style_be.mat', True, False)]:
    MatlabStyle(big).write(os.path.join(OUT, name), matlab_vars, compress)
    check = sio.loadmat(os.path.join(OUT, name), uint16_codec='utf-16-be' if big else 'utf-16-le')  # UTF-16 code units
    for k, v in matlab_vars.items():
        if isinstance(v, np.ndarray) and v.dtype != object:
            assert np.array_equal(check[k], v), (name, k)
    assert str(check['word'][0]) == 'héllo' and [str(c[0]) for c in check['joints'][0]] == ['rank', 'head', 'x']


# ---- gt_valid.mat and the official evaluate ----------------------------------------------------
JOINTS = ['rank', 'rkne', 'rhip', 'lhip', 'lkne', 'lank', 'pelv', 'thor', 'neck', 'head', 'rwri', 'relb', 'rsho', 'lsho',
          'lelb', 'lwri']


def official_evaluate(preds, gt):
    """mpii.py evaluate (SC_BIAS 0.6, threshold 0.5), from preds (N, 16, 2) 0-based."""
    preds = preds[:, :, 0:2] + 1.0
    dataset_joints, jnt_missing = gt['dataset_joints'], gt['jnt_missing']
    pos_gt_src, headboxes_src = gt['pos_gt_src'], gt['headboxes_src']
    pos_pred_src = np.transpose(preds, [1, 2, 0])
    idx = {n: np.where(dataset_joints == n)[1][0] for n in JOINTS}
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
    g = lambda a, b: 0.5 * (PCKh[idx[a]] + PCKh[idx[b]])
    table = [('Head', PCKh[idx['head']]), ('Shoulder', g('lsho', 'rsho')), ('Elbow', g('lelb', 'relb')),
             ('Wrist', g('lwri', 'rwri')), ('Hip', g('lhip', 'rhip')), ('Knee', g('lkne', 'rkne')),
             ('Ankle', g('lank', 'rank')), ('Mean', np.sum(PCKh * jnt_ratio)), ('Mean@0.1', np.sum(pckAll[11, :] * jnt_ratio))]
    return dict(per_joint=[float(v) for v in np.ma.getdata(PCKh)], table=[[n, float(v)] for n, v in table])


def gt_variables(joints, vis, heads):
    """joints (N, 16, 2) 1-based, vis (N, 16), heads (N, 4) -> the official variables."""
    dj = np.empty((1, 16), dtype=object)
    dj[0, :] = JOINTS
    return {'dataset_joints': dj, 'jnt_missing': (1 - vis.T).astype(float),
            'pos_gt_src': np.transpose(joints, [1, 2, 0]).astype(float),
            'headboxes_src': np.transpose(heads.reshape(-1, 2, 2), [1, 2, 0]).astype(float)}


cases = {}
with open(os.path.join(HERE, 'train.json')) as f:
    people = json.load(f)
joints = np.array([p['joints'] for p in people], dtype=float)
vis = np.array([p['joints_vis'] for p in people])
tl = rng.uniform(5, 40, (len(people), 2)).round(2)
heads = np.concatenate([tl, tl + rng.uniform(8, 20, (len(people), 2)).round(2)], axis=1)
variables = gt_variables(joints, vis, heads)
sio.savemat(os.path.join(OUT, 'gt_valid.mat'), variables, do_compression=True)
sio.savemat(os.path.join(OUT, 'gt_valid_v6.mat'), variables, do_compression=False)
MatlabStyle(True).write(os.path.join(OUT, 'gt_valid_matlab_be.mat'), variables, compress=False)
preds = joints - 1 + rng.randn(*joints.shape) * 3
for name in ['gt_valid.mat', 'gt_valid_v6.mat', 'gt_valid_matlab_be.mat']:
    cases[name] = dict(predictions=preds.tolist(), **official_evaluate(preds, sio.loadmat(os.path.join(OUT, name))))

n = 50
joints = rng.uniform(20, 300, (n, 16, 2))
vis = (rng.uniform(size=(n, 16)) > 0.15).astype(int)
tl = rng.uniform(50, 200, (n, 2))
size = rng.uniform(20, 60, n)
heads = np.concatenate([tl, tl + np.stack([size * 0.8, size * 1.1], axis=1)], axis=1)
sio.savemat(os.path.join(OUT, 'gt_synthetic.mat'), gt_variables(joints, vis, heads), do_compression=True)
preds = joints - 1 + rng.randn(n, 16, 2) * (size * 0.6 * 0.3)[:, None, None]
cases['gt_synthetic.mat'] = dict(predictions=preds.tolist(), **official_evaluate(preds, sio.loadmat(os.path.join(OUT, 'gt_synthetic.mat'))))
with open(os.path.join(OUT, 'pckh.json'), 'w') as f:
    json.dump(cases, f)

# ---- zlib streams for hostile-file tests -----------------------------------------------------
with open(os.path.join(OUT, 'zeros_4mb.zlib'), 'wb') as f:     # a bomb: 4 MB of zeros
    f.write(zlib.compress(bytes(4 << 20), 9))
with open(os.path.join(OUT, 'double_element.zlib'), 'wb') as f:  # a miDOUBLE element, not miMATRIX
    f.write(zlib.compress(struct.pack('<II', 9, 8) + bytes(8)))
print('written to', OUT)
