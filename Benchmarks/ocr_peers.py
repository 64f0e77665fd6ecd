#!/usr/bin/env python3
"""HRNetV2-W48 + OCR and HRNetV2-W48 (Cityscapes configs) in ONE interleaved run: OpenVINO fp32 and
ONNX Runtime on the official models exported to ONNX, beside `hrnet bench --json` on the presets
ocr_w48_cityscapes and seg_w48_cityscapes, batch 1, same thread count, at each --sizes HxW.

Set-up (not part of the project; Python only here, never at run time):
  python3 -m venv /tmp/peer && /tmp/peer/bin/pip install torch onnx onnxruntime openvino numpy pyyaml
  fetch github:HRNet/HRNet-Semantic-Segmentation (branch HRNet-OCR) and extract lib/models and
  experiments/cityscapes: git --git-dir=MIRROR archive HEAD lib/models experiments/cityscapes | tar -x -C /tmp/hrseg
Run (release build; stop other heavy work first, the machine has 2 cores):
  /tmp/peer/bin/python Benchmarks/ocr_peers.py --seg-repo /tmp/hrseg --hrnet .build/release/hrnet \
      --sizes 512x1024,1024x2048 --threads 2 --reps 3

The official models are built from their own files (seg_hrnet_ocr.py, seg_hrnet.py) with random
weights (latency does not depend on the values); SyncBatchNorm becomes BatchNorm2d (the same in eval
mode; the CPU export needs it) and numpy's removed np.int is aliased to int, nothing else is touched.
OpenVINO: INFERENCE_NUM_THREADS, PERFORMANCE_HINT=LATENCY, INFERENCE_PRECISION_HINT=f32. ORT:
CPUExecutionProvider, intra_op_num_threads. One round per size: for each model OpenVINO, ORT, ours,
so machine noise hits all alike. Prints one JSON line per (size, model) and a table; "ocr_extra_ms"
is OCR minus HRNetV2 (the OCR head's cost beyond HRNetV2's last_layer, which it replaces).
"""
import argparse, importlib.util, json, os, subprocess, sys, time, types
import numpy as np

MODELS = {'ocr': ('experiments/cityscapes/seg_hrnet_ocr_w48_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml',
                  'seg_hrnet_ocr', 'ocr_w48_cityscapes'),
          'hrnetv2': ('experiments/cityscapes/seg_hrnet_w48_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml',
                      'seg_hrnet', 'seg_w48_cityscapes')}


def median_ms(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return sorted(ts)[reps // 2] * 1000


def official(repo, config, module_name):
    import torch.nn as nn, yaml

    class Node(dict):
        def __getattr__(self, name):
            v = self[name]
            return Node(v) if isinstance(v, dict) else v
    np.int = int
    package = types.ModuleType('seg_official')
    package.__path__ = [os.path.join(repo, 'lib', 'models')]
    sys.modules['seg_official'] = package
    for name in ('bn_helper', module_name):
        spec = importlib.util.spec_from_file_location('seg_official.' + name, os.path.join(repo, 'lib', 'models', name + '.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules['seg_official.' + name] = module
        spec.loader.exec_module(module)
    with open(os.path.join(repo, config)) as f:
        cfg = yaml.safe_load(f)
    cfg['MODEL'].setdefault('ALIGN_CORNERS', True)
    cfg['MODEL'].setdefault('OCR', {'MID_CHANNELS': 512, 'KEY_CHANNELS': 256, 'DROPOUT': 0.05, 'SCALE': 1})
    model = module.HighResolutionNet(Node(cfg))
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.SyncBatchNorm):
                setattr(parent, name, nn.BatchNorm2d(child.num_features, child.eps, child.momentum))
    return model.eval()


def export(model, h, w, path):
    import torch
    torch.onnx.export(model, torch.randn(1, 3, h, w), path, opset_version=17, dynamo=False, input_names=['x'])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seg-repo', required=True)
    ap.add_argument('--hrnet', default='.build/release/hrnet')
    ap.add_argument('--sizes', default='512x1024,1024x2048')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=3)
    a = ap.parse_args()
    import onnxruntime as ort, openvino as ov
    rows = []
    for size in a.sizes.split(','):
        h, w = map(int, size.split('x'))
        for key, (config, module_name, preset) in MODELS.items():
            path = '/tmp/ocr_peers_%s_%dx%d.onnx' % (key, h, w)
            if not os.path.exists(path):
                print('exporting %s %s' % (key, size), file=sys.stderr)
                export(official(a.seg_repo, config, module_name), h, w, path)
            x = np.random.randn(1, 3, h, w).astype(np.float32)
            c = ov.Core().compile_model(path, 'CPU', {'INFERENCE_NUM_THREADS': a.threads, 'PERFORMANCE_HINT': 'LATENCY',
                                                      'INFERENCE_PRECISION_HINT': 'f32'})
            r = c.create_infer_request()
            row = {'model': key, 'size': size, 'threads': a.threads,
                   'openvino_ms': round(median_ms(lambda: r.infer({0: x}), a.reps), 1)}
            del r, c
            so = ort.SessionOptions(); so.intra_op_num_threads = a.threads; so.inter_op_num_threads = 1
            s = ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])
            row['ort_ms'] = round(median_ms(lambda: s.run(None, {'x': x}), a.reps), 1)
            del s
            command = [a.hrnet, 'bench', '--preset', preset, '--random-weights', '--height', str(h), '--width', str(w),
                       '--threads', str(a.threads), '--runs', str(a.reps), '--warmup', '1', '--json']
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            ours = json.loads(out[out.index('{'):])
            row['ours_ms'] = round(ours['median_ms'], 1)
            row['ours_peak_rss_mb'] = ours.get('peak_rss_mb')
            row['ours_gflops'] = ours.get('gflop_per_s') or ours.get('gflops')
            row['ours_vs_openvino'] = round(row['ours_ms'] / row['openvino_ms'], 3)
            row['ours_vs_ort'] = round(row['ours_ms'] / row['ort_ms'], 3)
            print(json.dumps(row), flush=True)
            rows.append(row)
    print('\n| size | model | OpenVINO ms | ORT ms | ours ms | ours/OpenVINO |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        print('| %s | %s | %.0f | %.0f | %.0f | %.2f |' % (r['size'], r['model'], r['openvino_ms'], r['ort_ms'], r['ours_ms'], r['ours_vs_openvino']))
    for size in a.sizes.split(','):
        by = {r['model']: r for r in rows if r['size'] == size}
        if len(by) == 2:
            for engine in ('openvino_ms', 'ort_ms', 'ours_ms'):
                extra = by['ocr'][engine] - by['hrnetv2'][engine]
                print('%s %s: ocr_extra_ms %.0f (%.0f%% of the OCR model)' % (size, engine[:-3], extra, 100 * extra / by['ocr'][engine]))


if __name__ == '__main__':
    main()
