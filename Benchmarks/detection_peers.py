#!/usr/bin/env python3
"""Times an HRNetV2p detector three ways in ONE interleaved run, at the same thread count, beside
`hrnet bench --detector NAME --json`:

1. mmdetection 3.3.0 on PyTorch (CPU): the model built from mmdet's own zoo config (the
   configs/hrnet/ file inside the installed wheel, mmdet/.mim/configs/), random weights from
   model.init_weights() (mmdet puts the classification biases at the 0.01 prior; the script also
   puts rpn_cls's bias there, as `hrnet bench` does), no download (backbone.init_cfg = None).
   mmdet's init leaves eval-mode BN at mean 0 / var 1, so activations reach ~1e9 through HRNet and no
   RPN box stays inside the image (0 RoIs): the script sets the BN running statistics from one
   train-mode pass over the input (--no-bn-calibration keeps the raw init); then Faster R-CNN gets
   1000 RoIs and 100 detections, as a trained model would.
   (a) mmdet_total: the whole `inference_detector(model, img)` on a 1333x800 synthetic BGR image
       (resize, pad, normalize, network, post-processing);
   (b) mmdet_network: backbone + neck + dense head forward on the preprocessed (1,3,800,1344)
       tensor under torch.no_grad() (for Faster R-CNN the dense head is the RPN head; RPN
       proposals, RoI pooling and the box head are in (a) only), timed part by part.
2. OpenVINO fp32 on an ONNX export of that network alone (backbone + neck + dense head, returning
   the head's tensors; Faster R-CNN: backbone + neck + RPN head only), input fixed at
   (1,3,800,1344): INFERENCE_NUM_THREADS=threads, PERFORMANCE_HINT=LATENCY,
   INFERENCE_PRECISION_HINT=f32. And ONNX Runtime (CPUExecutionProvider, intra_op_num_threads =
   threads, inter_op 1, all graph optimizations) on the same file.
3. Ours: `hrnet bench --detector NAME --threads T --runs R --warmup W --json` as a
   subprocess (its median_ms is the whole detect call on a 1333x800 image; backbone/neck/head_ms
   are the network's parts, other_ms the rest). With --ours-weights auto (default) a failure of its
   random-weight path falls back to `--detector-weights` with the mmdet model's weights saved as a
   zoo-layout checkpoint (the JSON's notes and ours_command say so); --ours-weights mmdet always does.

One round = mmdet total, mmdet network, OpenVINO, ONNX Runtime, ours (each with its own warm-up);
`--rounds` rounds (default 2), so machine noise hits everything alike; the results are medians over
all timed repetitions (peers) and over the rounds' medians (ours). Before each round the script waits
(up to --max-wait seconds) until other processes keep fewer than --max-busy cores busy, sampled from
/proc/stat over 2 s while this script is idle (the load average would count this script's own
previous round); during each engine's block it measures the other processes' CPU use (machine-wide
busy time minus this process and its children) and redoes a block they disturbed (--retries): on 2
cores a PyTorch/OpenMP run that loses one core to a test run slowed down 5-9x here, not 2x. Only one
heavy computation runs at a time.

Prints one JSON line per preset (stdout; progress goes to stderr) with mmdet_total_ms,
mmdet_network_ms (and its backbone/neck/head split), mmdet_detections / mmdet_rois, openvino_ms, ort_ms, ours_total_ms,
ours_network_ms (= backbone + neck + head), ours_backbone/neck/head/other_ms, the ratios
ours_network/openvino, ours_network/ort, ours_network/mmdet_network, ours_total/mmdet_total, the CPU
model (/proc/cpuinfo), our bench's measured peak_gflops, and the per-round values.

Set-up (the venv of Tests/Fixtures/detection/make_detection_fixtures.py, plus the two runtimes):

    python3 -m venv /work/venv-det
    /work/venv-det/bin/pip install torch torchvision numpy       # plain PyPI (CUDA wheels; run on the CPU)
    /work/venv-det/bin/pip install --no-deps mmdet==3.3.0 mmengine==0.10.7 mmcv-lite==2.1.0
    /work/venv-det/bin/pip install addict yapf termcolor rich matplotlib shapely terminaltables six \\
        pycocotools scipy opencv-python-headless pyyaml tqdm safetensors
    /work/venv-det/bin/pip install openvino onnx onnxruntime

Run (from the repository root, after `swift build -c release`):

    /work/venv-det/bin/python Benchmarks/detection_peers.py fcos_hrnetv2p_w18 faster_rcnn_hrnetv2p_w32 \\
        --threads 2 --rounds 2 --runs 3 --warmup 1

mmcv-lite has no compiled `mmcv._ext`; before mmdet is imported the script registers a stand-in
module (as make_detection_fixtures.py does, without its cross-checks): nms -> torchvision.ops.nms,
roi_align_forward -> torchvision.ops.roi_align(aligned=True, sampling_ratio=0).
"""
import argparse
import gc
import importlib.machinery
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

PRESETS = {  # our preset -> mmdet 3.3.0 zoo config (configs/hrnet/); 1x/2x share the test-time model
    'fcos_hrnetv2p_w18': 'fcos_hrnetv2p-w18-gn-head_4xb4-1x_coco.py',
    'fcos_hrnetv2p_w32': 'fcos_hrnetv2p-w32-gn-head_4xb4-1x_coco.py',
    'fcos_hrnetv2p_w40': 'fcos_hrnetv2p-w40-gn-head_ms-640-800-4xb4-2x_coco.py',
    'faster_rcnn_hrnetv2p_w18': 'faster-rcnn_hrnetv2p-w18-1x_coco.py',
    'faster_rcnn_hrnetv2p_w32': 'faster-rcnn_hrnetv2p-w32-1x_coco.py',
    'faster_rcnn_hrnetv2p_w40': 'faster-rcnn_hrnetv2p-w40-1x_coco.py',
}
PRIOR_LOGIT = -4.595  # log(0.01 / 0.99): sigmoid 0.01, mmdet's bias_init_with_prob(0.01)


def log(msg):
    print('[detection_peers %s] %s' % (time.strftime('%H:%M:%S'), msg), file=sys.stderr, flush=True)


# ================================================================ machine
def cpu_model():
    name, flags = 'unknown', set()
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name') and name == 'unknown':
                name = line.split(':', 1)[1].strip()
            elif line.startswith('flags') and not flags:
                flags = set(line.split(':', 1)[1].split())
    except OSError:
        pass
    simd = [f for f in ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile') if f in flags]
    return name, simd


def cpu_times():
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return sum(v[:8]) - idle, sum(v[:8])


def busy_cores(seconds=2.0):
    """Cores kept busy by every process on the machine over `seconds` (this script sleeps meanwhile)."""
    b0, t0 = cpu_times()
    time.sleep(seconds)
    b1, t1 = cpu_times()
    return (os.cpu_count() or 1) * (b1 - b0) / max(1, t1 - t0)


def own_cpu():
    """CPU seconds of this process and its finished children (the hrnet bench subprocess)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def wait_quiet(max_busy, max_wait):
    start = time.time()
    while True:
        busy = busy_cores()
        waited = time.time() - start
        if busy < max_busy:
            return dict(busy_cores=round(busy, 2), waited_s=round(waited, 1), quiet=True,
                        loadavg=round(os.getloadavg()[0], 2))
        if waited >= max_wait:
            log('machine still busy (%.2f cores by others) after %.0f s: measuring anyway' % (busy, waited))
            return dict(busy_cores=round(busy, 2), waited_s=round(waited, 1), quiet=False,
                        loadavg=round(os.getloadavg()[0], 2))
        log('waiting: %.2f cores busy (want < %.2f), load average %.2f' % (busy, max_busy, os.getloadavg()[0]))
        time.sleep(8)


# ================================================================ the mmcv._ext stand-in
def install_ext_stand_in():
    """mmcv-lite has no compiled mmcv._ext: nms and roi_align_forward on torchvision (the same
    substitution as Tests/Fixtures/detection/make_detection_fixtures.py, without its cross-checks)."""
    import torchvision

    def nms(boxes, scores, iou_threshold, offset):
        assert offset == 0, 'the stand-in supports offset 0 only (mmdet uses 0)'
        return torchvision.ops.nms(boxes, scores, float(iou_threshold))

    def roi_align_forward(input, rois, output, argmax_y, argmax_x, aligned_height, aligned_width,
                          spatial_scale, sampling_ratio, pool_mode, aligned):
        assert pool_mode == 1 and aligned, 'the stand-in does avg pooling with aligned=True only'
        output.copy_(torchvision.ops.roi_align(input, rois, (aligned_height, aligned_width), float(spatial_scale),
                                               int(sampling_ratio), True))

    ext = types.ModuleType('mmcv._ext')
    ext.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)  # mmengine's mmcv_full_available looks
    ext.nms = nms
    ext.roi_align_forward = roi_align_forward

    def missing(name):
        if name.startswith('__'):
            raise AttributeError(name)

        def f(*args, **kwargs):
            raise NotImplementedError('mmcv._ext.%s is not in the stand-in' % name)
        return f
    ext.__getattr__ = missing
    sys.modules['mmcv._ext'] = ext


# ================================================================ timing helpers
def timed(body, reps, warmup):
    for _ in range(warmup):
        body()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        body()
        out.append((time.perf_counter() - t) * 1000)
    return out


def med(xs):
    return statistics.median(xs) if xs else None


def synthetic_image(w=1333, h=800):
    """The same smooth pattern as `hrnet bench` (channel c of pixel (x, y) = (x(c+1) + y(3-c)) mod 256);
    the network's cost depends only on the size. HxWx3 uint8, read as BGR by mmdet."""
    import numpy as np
    y, x = np.mgrid[0:h, 0:w]
    return np.ascontiguousarray(np.stack([(x * (c + 1) + y * (3 - c)) % 256 for c in range(3)], -1).astype(np.uint8))


# ================================================================ the peers
class Peers:
    def __init__(self, preset, threads, work_dir, want_openvino=True, want_ort=True, calibrate_bn=True):
        import torch
        from mmengine.config import Config
        from mmdet.apis import init_detector
        import mmdet
        self.preset, self.threads = preset, threads
        self.notes = []
        torch.manual_seed(0)
        path = os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'configs', 'hrnet', PRESETS[preset])
        cfg = Config.fromfile(path)
        cfg.model.backbone.init_cfg = None  # no download of the ImageNet backbone
        self.config = os.path.relpath(path, os.path.dirname(os.path.dirname(mmdet.__file__)))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            model = init_detector(cfg, None, device='cpu')
            from mmengine.logging import MMLogger
            MMLogger.get_current_instance().setLevel(logging.WARNING)  # init_weights logs every tensor to stdout
            model.init_weights()
        model.eval()
        self.two_stage = hasattr(model, 'rpn_head')
        self.head = model.rpn_head if self.two_stage else model.bbox_head
        if self.two_stage:
            with torch.no_grad():  # as hrnet bench does (mmdet's Normal init leaves it at 0; RPN has no score threshold)
                model.rpn_head.rpn_cls.bias.fill_(PRIOR_LOGIT)
        self.model = model
        self.img = synthetic_image()

        # the network input exactly as inference_detector makes it
        from mmcv.transforms import Compose
        from mmdet.utils import get_test_pipeline_cfg
        pcfg = get_test_pipeline_cfg(model.cfg.copy())
        pcfg[0].type = 'mmdet.LoadImageFromNDArray'
        d = Compose(pcfg)(dict(img=self.img, img_id=0))
        d = dict(inputs=[d['inputs']], data_samples=[d['data_samples']])
        with torch.no_grad():
            self.x = model.data_preprocessor(d, False)['inputs'].contiguous()
        self.input = 'x'.join(str(s) for s in self.x.shape)
        log('%s: %s, input %s, %d parameters' % (preset, self.config, self.input,
                                                    sum(p.numel() for p in model.parameters())))
        if calibrate_bn:
            self._calibrate_bn()
        self.rois = None
        if self.two_stage:
            def count(module, inputs, output):
                self.rois = int(output.shape[0])
            model.roi_head.bbox_roi_extractor.register_forward_hook(count)
        with torch.no_grad():
            self.ref = [t.numpy() for t in self._flat(self.head(model.neck(model.backbone(self.x))))]
            self.detections = len(self._detect().pred_instances)
        log('mmdet on the synthetic image: %d detections%s; largest |output| %.3g' % (
            self.detections, '' if self.rois is None else ', %d RoIs' % self.rois, max(abs(a).max() for a in self.ref)))

        self.onnx_path = None
        self.ov = self.ort = None
        if want_openvino or want_ort:
            self._export(work_dir)
        if want_openvino:
            self._openvino()
        if want_ort and self.onnx_path:
            self._onnxruntime()

    def _calibrate_bn(self):
        """mmdet's init (Kaiming convs, BN at mean 0 / var 1) lets eval-mode activations grow to ~1e9 through
        the HRNet backbone: every RPN box then leaves the image and no RoI reaches the box head, and FCOS
        scores saturate. One train-mode pass over the input sets each BN's running statistics
        (cumulative average), so activations stay at unit scale and post-processing sees realistic counts.
        Timing of the network does not depend on values."""
        import torch
        bns = [m for m in self.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        with torch.no_grad():
            self.model.backbone(self.x)  # BN layers are in the backbone only (HRFPN and the heads have none or GN)
        for m in bns:
            m.eval()
        self.notes.append('BN running statistics of the mmdet model set from one pass over the input (%d layers)' % len(bns))

    @staticmethod
    def _flat(outs):
        return [t for group in outs for t in (group if isinstance(group, (list, tuple)) else [group])]

    def _detect(self):
        from mmdet.apis import inference_detector
        return inference_detector(self.model, self.img)

    def _export(self, work_dir):
        import torch
        model, flat = self.model, self._flat

        class Network(torch.nn.Module):  # backbone + neck + dense head, flat tuple of the head's tensors
            def __init__(self):
                super().__init__()
                self.backbone, self.neck, self.head = model.backbone, model.neck, (model.rpn_head if hasattr(model, 'rpn_head') else model.bbox_head)

            def forward(self, x):
                return tuple(flat(self.head(self.neck(self.backbone(x)))))

        self.network = Network().eval()
        path = os.path.join(work_dir, '%s.onnx' % self.preset)
        t = time.time()
        errors = []
        for kwargs in (dict(dynamo=False, opset_version=17), dict(dynamo=True)):
            try:
                with torch.no_grad(), warnings.catch_warnings():
                    warnings.simplefilter('ignore')
                    torch.onnx.export(self.network, (self.x,), path, input_names=['input'],
                                      output_names=['out%d' % i for i in range(len(self.ref))], **kwargs)
                self.onnx_path = path
                self.onnx_exporter = 'torch.onnx.export(%s)' % ', '.join('%s=%s' % kv for kv in kwargs.items())
                log('ONNX export: %s in %.0f s (%.0f MB)' % (self.onnx_exporter, time.time() - t,
                                                            os.path.getsize(path) / 1e6))
                return
            except Exception as e:  # noqa: BLE001 - every exporter failure is reported
                errors.append('%s: %s: %s' % (kwargs, type(e).__name__, str(e).splitlines()[0][:300] if str(e) else ''))
                log('ONNX export failed: ' + errors[-1])
        self.notes.append('ONNX export failed: ' + ' | '.join(errors))

    def _check(self, name, outs):
        import numpy as np
        worst = 0.0
        for a, b in zip(self.ref, outs):
            worst = max(worst, float(np.abs(a - b).max() / (np.abs(a).max() + 1e-6)))
        log('%s vs PyTorch: max |diff| / max |ref| = %.2g over %d outputs' % (name, worst, len(outs)))
        return worst

    def _openvino(self):
        import openvino as ov
        core = ov.Core()
        t = time.time()
        if self.onnx_path:
            m = core.read_model(self.onnx_path)
            self.ov_source = 'onnx'
        else:  # the ONNX export failed: let OpenVINO convert the PyTorch module itself
            import torch
            with torch.no_grad():
                m = ov.convert_model(self.network, example_input=self.x)
            self.ov_source = 'ov.convert_model(torch module) (ONNX export failed)'
            self.notes.append('OpenVINO read the PyTorch module directly (ov.convert_model), not ONNX')
        config = {'INFERENCE_NUM_THREADS': self.threads, 'PERFORMANCE_HINT': 'LATENCY',
                  'INFERENCE_PRECISION_HINT': 'f32'}
        compiled = core.compile_model(m, 'CPU', config)
        self.ov_config = {k: str(getattr(v, 'get_type_name', lambda: v)()) for k, v in
                          ((k, compiled.get_property(k)) for k in config)}
        self.ov_config['NUM_STREAMS'] = str(compiled.get_property('NUM_STREAMS'))
        req = compiled.create_infer_request()
        xn = self.x.numpy()
        res = req.infer({0: xn})
        self.ov_diff = self._check('OpenVINO', [res[o] for o in compiled.outputs])
        log('OpenVINO %s: compiled in %.0f s, %s' % (ov.__version__, time.time() - t, self.ov_config))
        self.ov = lambda: req.infer({0: xn})
        self.ov_version = ov.__version__

    def _onnxruntime(self):
        try:
            import onnxruntime as ort
        except ImportError as e:
            self.notes.append('onnxruntime not installed: %s' % e)
            return
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            sess = ort.InferenceSession(self.onnx_path, so, providers=['CPUExecutionProvider'])
        except Exception as e:  # noqa: BLE001
            self.notes.append('onnxruntime session failed: %s: %s' % (type(e).__name__, str(e)[:300]))
            log(self.notes[-1])
            return
        feed = {'input': self.x.numpy()}
        self.ort_diff = self._check('ONNX Runtime', sess.run(None, feed))
        self.ort = lambda: sess.run(None, feed)
        self.ort_version = ort.__version__

    def save_checkpoint(self, work_dir):
        """The mmdet model's (random) weights as a zoo-layout checkpoint, for hrnet bench --detector-weights."""
        import torch
        path = os.path.join(work_dir, '%s_random.pth' % self.preset)
        torch.save({'meta': {}, 'state_dict': self.model.state_dict()}, path)
        log('saved the mmdet model\'s random weights to %s' % path)
        return path

    # ---------------------------------------------------------------- the timed parts
    def time_total(self, reps, warmup):
        import torch
        with torch.no_grad():
            return timed(self._detect, reps, warmup)

    def time_network(self, reps, warmup):
        """Whole network per repetition, and its backbone / neck / head parts within that same run."""
        import torch
        m, x = self.model, self.x
        parts = []

        def run():
            t0 = time.perf_counter()
            f = m.backbone(x)
            t1 = time.perf_counter()
            f = m.neck(f)
            t2 = time.perf_counter()
            self.head(f)
            t3 = time.perf_counter()
            parts.append(((t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000))
        with torch.no_grad():
            total = timed(run, reps, warmup)
        return total, parts[warmup:]


def run_ours(binary, preset, threads, runs, warmup, weights=None):
    cmd = [binary, 'bench', '--detector', preset] + (['--detector-weights', weights] if weights else []) + \
          ['--threads', str(threads), '--runs', str(runs), '--warmup', str(warmup), '--json']
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (' '.join(cmd), p.returncode, p.stderr.strip()[-2000:]))
    lines = [l for l in p.stdout.splitlines() if l.strip().startswith('{')]
    if not lines:
        raise RuntimeError('%s printed no JSON: %s' % (' '.join(cmd), (p.stdout + p.stderr).strip()[-2000:]))
    return json.loads(lines[-1]), cmd


def binary_info(path):
    """Which build of ours ran: modification time, size, and the checkout's HEAD (another engineer may
    rebuild it between runs)."""
    import hashlib
    st = os.stat(path)
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    head = subprocess.run(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
    return dict(mtime=time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(st.st_mtime)), bytes=st.st_size,
                sha256=h.hexdigest()[:16], repo_head=head or None)


def r(v, n=1):
    return None if v is None else round(v, n)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else round(a / b, 3)


def bench_preset(preset, args, work_dir):
    import torch
    peers = Peers(preset, args.threads, work_dir, not args.no_openvino, not args.no_ort, not args.no_bn_calibration)
    gc.collect()
    res = dict(mmdet_total=[], mmdet_network=[], mmdet_parts=[], openvino=[], ort=[], ours=[])
    machine = []
    disturbed = []
    ours_cmd = ours_weights = None

    def guarded(name, k, body):
        """Runs one engine's block; if other processes kept more than --max-busy cores busy meanwhile
        (machine-wide /proc/stat minus this process and its children), waits for quiet and redoes it
        (up to --retries times). An OpenMP engine that loses a core to another process can slow down
        several-fold, not 2x, so such a block is not kept."""
        for attempt in range(args.retries + 1):
            b0, t0 = cpu_times()
            c0, w0 = own_cpu(), time.perf_counter()
            out = body()
            wall = time.perf_counter() - w0
            b1, t1 = cpu_times()
            others = (os.cpu_count() or 1) * (b1 - b0) / max(1, t1 - t0) - (own_cpu() - c0) / wall
            if others < args.max_busy or attempt == args.retries:
                if others >= args.max_busy:
                    disturbed.append(dict(engine=name, round=k + 1, others_busy_cores=round(others, 2)))
                    log('  %s: other processes kept %.2f cores busy; kept anyway (--retries exhausted)' % (name, others))
                return out, others
            log('  %s: other processes kept %.2f cores busy meanwhile; redoing it' % (name, others))
            wait_quiet(args.max_busy, args.max_wait)

    for k in range(args.rounds):
        machine.append(wait_quiet(args.max_busy, args.max_wait))
        log('%s round %d/%d (%s)' % (preset, k + 1, args.rounds, machine[-1]))
        others = {}
        t, others['mmdet_total'] = guarded('mmdet inference_detector', k, lambda: peers.time_total(args.runs, args.warmup))
        res['mmdet_total'] += t
        log('  mmdet inference_detector: %s ms' % [round(v) for v in t])
        time.sleep(args.pause)
        (t, parts), others['mmdet_network'] = guarded('mmdet network', k, lambda: peers.time_network(args.runs, args.warmup))
        res['mmdet_network'] += t
        res['mmdet_parts'] += parts
        log('  mmdet network: %s ms' % [round(v) for v in t])
        if peers.ov:
            time.sleep(args.pause)
            t, others['openvino'] = guarded('OpenVINO', k, lambda: timed(peers.ov, args.runs, args.warmup))
            res['openvino'] += t
            log('  OpenVINO: %s ms' % [round(v) for v in t])
        if peers.ort:
            time.sleep(args.pause)
            t, others['ort'] = guarded('ONNX Runtime', k, lambda: timed(peers.ort, args.runs, args.warmup))
            res['ort'] += t
            log('  ONNX Runtime: %s ms' % [round(v) for v in t])
        time.sleep(args.pause)
        ours_args = (args.hrnet, preset, args.threads, args.ours_runs or args.runs,
                     args.ours_warmup if args.ours_warmup is not None else args.warmup)
        if args.ours_weights == 'mmdet' and ours_weights is None:
            ours_weights = peers.save_checkpoint(work_dir)
        try:
            (ours, ours_cmd), others['ours'] = guarded('ours', k, lambda: run_ours(*ours_args, weights=ours_weights))
        except RuntimeError as e:
            if args.ours_weights != 'auto' or ours_weights is not None:
                raise
            # e.g. a build whose random-weight path cannot make some part: give it mmdet's random weights
            first = ' '.join(l.strip() for l in str(e).split(': ', 1)[-1].splitlines()[:3])
            peers.notes.append('ours with random weights failed (%s ...); ours ran on the mmdet model\'s random '
                               'weights instead (--detector-weights, same values as the peers)' % first)
            log(peers.notes[-1])
            ours_weights = peers.save_checkpoint(work_dir)
            (ours, ours_cmd), others['ours'] = guarded('ours', k, lambda: run_ours(*ours_args, weights=ours_weights))
        res['ours'].append(ours)
        log('  ours: %s' % json.dumps(ours))
        machine[-1]['others_busy_cores_during'] = {key: round(v, 2) for key, v in others.items()}

    o = {key: med([x[key] for x in res['ours']]) for key in
         ('median_ms', 'backbone_ms', 'neck_ms', 'head_ms', 'other_ms', 'gflop', 'peak_gflops', 'peak_rss_mb')}
    ours_network = med([x['backbone_ms'] + x['neck_ms'] + x['head_ms'] for x in res['ours']])
    mp = res['mmdet_parts']
    mmdet_network = med(res['mmdet_network'])
    cpu, simd = cpu_model()
    out = dict(
        preset=preset, mmdet_config=peers.config, threads=args.threads, rounds=args.rounds,
        input=peers.input, ours_input=res['ours'][0].get('input'),
        dense_network='backbone + neck + ' + ('RPN head (proposals, RoI pooling and the box head are outside it)'
                                              if peers.two_stage else 'FCOS head'),
        mmdet_total_ms=r(med(res['mmdet_total'])), mmdet_network_ms=r(mmdet_network),
        mmdet_backbone_ms=r(med([p[0] for p in mp])), mmdet_neck_ms=r(med([p[1] for p in mp])),
        mmdet_head_ms=r(med([p[2] for p in mp])), mmdet_detections=peers.detections, mmdet_rois=peers.rois,
        openvino_ms=r(med(res['openvino'])), ort_ms=r(med(res['ort'])),
        ours_total_ms=r(o['median_ms']), ours_network_ms=r(ours_network),
        ours_backbone_ms=r(o['backbone_ms']), ours_neck_ms=r(o['neck_ms']), ours_head_ms=r(o['head_ms']),
        ours_other_ms=r(o['other_ms']),
        ratio_ours_network_over_openvino=ratio(ours_network, med(res['openvino'])),
        ratio_ours_network_over_ort=ratio(ours_network, med(res['ort'])),
        ratio_ours_network_over_mmdet_network=ratio(ours_network, mmdet_network),
        ratio_ours_total_over_mmdet_total=ratio(o['median_ms'], med(res['mmdet_total'])),
        ours_gflop=r(o['gflop'], 2), ours_gflops=r(o['gflop'] * 1000 / ours_network if ours_network else None),
        peak_gflops=r(o['peak_gflops']), ours_peak_rss_mb=r(o['peak_rss_mb'], 0),
        cpu=cpu, cpu_simd=simd, cores=os.cpu_count(), ours_binary=binary_info(args.hrnet),
        versions=dict(torch=torch.__version__, mmdet=__import__('mmdet').__version__,
                      openvino=getattr(peers, 'ov_version', None), onnxruntime=getattr(peers, 'ort_version', None)),
        onnx_exporter=getattr(peers, 'onnx_exporter', None), openvino_source=getattr(peers, 'ov_source', None),
        openvino_config=getattr(peers, 'ov_config', None),
        max_rel_diff_vs_torch=dict(openvino=r(getattr(peers, 'ov_diff', None), 7), ort=r(getattr(peers, 'ort_diff', None), 7)),
        peer_reps_per_round=args.runs, peer_warmup_per_round=args.warmup,
        ours_command=' '.join(os.path.relpath(c, REPO) if i == 0 else c for i, c in enumerate(ours_cmd)),
        ours_weights='mmdet model\'s random weights (checkpoint)' if ours_weights else 'random (hrnet bench\'s own)',
        per_round=dict(
            mmdet_total_ms=[r(v) for v in res['mmdet_total']], mmdet_network_ms=[r(v) for v in res['mmdet_network']],
            openvino_ms=[r(v) for v in res['openvino']], ort_ms=[r(v) for v in res['ort']],
            ours_total_ms=[r(x['median_ms']) for x in res['ours']],
            ours_network_ms=[r(x['backbone_ms'] + x['neck_ms'] + x['head_ms']) for x in res['ours']],
            machine=machine),
        disturbed_blocks_kept=disturbed,
        notes=peers.notes)
    del peers
    gc.collect()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('presets', nargs='*', default=['fcos_hrnetv2p_w18'], choices=sorted(PRESETS),
                    metavar='PRESET', help='detector presets (%s)' % ', '.join(PRESETS))
    ap.add_argument('--threads', type=int, default=2, help='threads for every engine (default 2)')
    ap.add_argument('--rounds', type=int, default=2, help='interleaved rounds (default 2)')
    ap.add_argument('--runs', type=int, default=3, help='timed repetitions per engine per round (default 3)')
    ap.add_argument('--warmup', type=int, default=1, help='untimed repetitions per engine per round (default 1)')
    ap.add_argument('--ours-runs', type=int, default=None, help='--runs for hrnet bench (default: --runs)')
    ap.add_argument('--ours-warmup', type=int, default=None, help='--warmup for hrnet bench (default: --warmup)')
    ap.add_argument('--ours-weights', choices=('auto', 'random', 'mmdet'), default='auto',
                    help="hrnet bench's weights: random (its own), mmdet (the peers' random weights, saved as a "
                         "checkpoint for --detector-weights), auto (random; mmdet if that fails). Default auto")
    ap.add_argument('--hrnet', default=os.path.join(REPO, '.build', 'release', 'hrnet'), help='our binary')
    ap.add_argument('--max-busy', type=float, default=0.3,
                    help='wait before a round until other processes keep fewer cores busy than this (default 0.3)')
    ap.add_argument('--max-wait', type=float, default=180, help='seconds to wait for that at most (default 180)')
    ap.add_argument('--retries', type=int, default=2,
                    help='redo an engine block at most this often when other processes were busy during it (default 2)')
    ap.add_argument('--pause', type=float, default=1.0, help='seconds of idle between engines (default 1)')
    ap.add_argument('--no-bn-calibration', action='store_true',
                    help="keep mmdet's raw init (eval-mode activations ~1e9: no RoIs for Faster R-CNN)")
    ap.add_argument('--no-openvino', action='store_true')
    ap.add_argument('--no-ort', action='store_true')
    ap.add_argument('--work-dir', default=None, help='where the ONNX files go (default: a temporary directory)')
    args = ap.parse_args()
    if not os.access(args.hrnet, os.X_OK):
        sys.exit('no %s: build it first (swift build -c release)' % args.hrnet)

    warnings.filterwarnings('ignore')
    import torch
    torch.set_num_threads(args.threads)
    install_ext_stand_in()
    import mmdet  # noqa: F401  (after the stand-in)

    with tempfile.TemporaryDirectory(prefix='detection_peers_') as tmp:
        work_dir = args.work_dir or tmp
        os.makedirs(work_dir, exist_ok=True)
        for preset in args.presets:
            print(json.dumps(bench_preset(preset, args, work_dir)), flush=True)


if __name__ == '__main__':
    main()
