#!/usr/bin/env python3
"""The performance issue's table in ONE interleaved run: OpenVINO fp32 and bf16 on the official models
exported to ONNX, beside `hrnet bench --json --precision fp32|bf16` on the matching presets, same
thread count, plus this machine's fp32 peak and bf16 speed-up as `hrnet bench` measures them.

Cases: pose W32 256x192 batch 1 and 8, pose W48 384x288 batch 1, seg W48 512x1024 batch 1.

Set-up (not part of the project; Python only here, never at run time):
  python3 -m venv /tmp/peer && /tmp/peer/bin/pip install torch onnx onnxruntime openvino numpy pyyaml yacs
  git --git-dir=<pose mirror> archive HEAD lib experiments | tar -x -C /tmp/official-pose
  git --git-dir=<seg mirror, branch HRNet-OCR> archive HEAD lib/models experiments/cityscapes | tar -x -C /tmp/hrseg
Run (release build; stop other heavy work first, the machine has 2 cores):
  /tmp/peer/bin/python Benchmarks/precision_peers.py --pose-repo /tmp/official-pose --seg-repo /tmp/hrseg \
      --hrnet .build/release/hrnet --threads 2 --reps 5 --rounds 2

OpenVINO: INFERENCE_NUM_THREADS, PERFORMANCE_HINT=LATENCY, INFERENCE_PRECISION_HINT f32 or bf16. Each
round runs every case's four timings back to back (OpenVINO fp32, ours fp32, OpenVINO bf16, ours bf16),
so machine noise hits all alike; each figure is the median over rounds of per-round medians.
Prints one JSON line per case and a markdown table.
"""
import argparse, json, os, subprocess, sys, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CASES = [  # name, kind, official config, preset, batch, (h, w)
    ('pose W32 256x192 b1', 'pose', 'experiments/coco/hrnet/w32_256x192_adam_lr1e-3.yaml', 'pose_w32_256x192', 1, (256, 192)),
    ('pose W32 256x192 b8', 'pose', 'experiments/coco/hrnet/w32_256x192_adam_lr1e-3.yaml', 'pose_w32_256x192', 8, (256, 192)),
    ('pose W48 384x288 b1', 'pose', 'experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml', 'pose_w48_384x288', 1, (384, 288)),
    ('seg W48 512x1024 b1', 'seg', 'experiments/cityscapes/seg_hrnet_w48_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml',
     'seg_w48_cityscapes', 1, (512, 1024)),
]


def median(xs):
    return sorted(xs)[len(xs) // 2]


def median_ms(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return median(ts) * 1000


def export_pose(repo, config, path, h, w):
    import torch
    sys.path.insert(0, os.path.join(repo, 'lib'))
    from config import cfg
    from models.pose_hrnet import get_pose_net
    cfg.defrost(); cfg.merge_from_file(os.path.join(repo, config)); cfg.freeze()
    model = get_pose_net(cfg, is_train=False).eval()  # random weights: latency does not depend on values
    torch.onnx.export(model, torch.randn(1, 3, h, w), path, opset_version=17, dynamo=False, input_names=['x'],
                      output_names=['y'], dynamic_axes={'x': {0: 'n'}, 'y': {0: 'n'}})


def export_seg(repo, config, path, h, w):
    from ocr_peers import official, export
    export(official(repo, config, 'seg_hrnet'), h, w, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--pose-repo', required=True)
    ap.add_argument('--seg-repo', required=True)
    ap.add_argument('--hrnet', default='.build/release/hrnet')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--only', help='comma-separated case names to run (default: all)')
    a = ap.parse_args()
    import openvino as ov
    cases = [c for c in CASES if not a.only or c[0] in a.only.split(',')]
    paths = {}
    for name, kind, config, preset, batch, (h, w) in cases:
        path = '/tmp/precision_peers_%s_%dx%d.onnx' % (os.path.basename(config)[:-5], h, w)
        if kind == 'seg' and os.path.exists('/tmp/ocr_peers_hrnetv2_%dx%d.onnx' % (h, w)):
            path = '/tmp/ocr_peers_hrnetv2_%dx%d.onnx' % (h, w)
        if not os.path.exists(path):
            print('exporting %s' % name, file=sys.stderr)
            (export_pose if kind == 'pose' else export_seg)(a.pose_repo if kind == 'pose' else a.seg_repo, config, path, h, w)
        paths[name] = path
    core = ov.Core()
    times = {c[0]: {'openvino_fp32': [], 'ours_fp32': [], 'openvino_bf16': [], 'ours_bf16': []} for c in cases}
    extra = {c[0]: {} for c in cases}
    for round_ in range(a.rounds):
        for name, kind, config, preset, batch, (h, w) in cases:
            x = np.random.randn(batch, 3, h, w).astype(np.float32)
            for precision in ('fp32', 'bf16'):
                model = core.read_model(paths[name])
                if kind == 'seg':
                    pass  # exported at batch 1, static
                else:
                    model.reshape({'x': [batch, 3, h, w]})
                compiled = core.compile_model(model, 'CPU', {'INFERENCE_NUM_THREADS': a.threads, 'PERFORMANCE_HINT': 'LATENCY',
                                                             'INFERENCE_PRECISION_HINT': 'f32' if precision == 'fp32' else 'bf16'})
                request = compiled.create_infer_request()
                times[name]['openvino_' + precision].append(median_ms(lambda: request.infer({0: x}), a.reps))
                del request, compiled
                command = [a.hrnet, 'bench', '--preset', preset, '--random-weights', '--batch', str(batch),
                           '--threads', str(a.threads), '--runs', str(a.reps), '--warmup', '1', '--precision', precision, '--json']
                out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                ours = json.loads(out[out.index('{'):])
                times[name]['ours_' + precision].append(ours['median_ms'])
                for key in ('peak_gflops', 'peak_rss_mb', 'bf16_speedup', 'gflops', 'compile_ms', 'first_call_ms'):
                    if key in ours:
                        extra[name].setdefault(precision + '_' + key, []).append(ours[key])
            print('round %d: %s done' % (round_ + 1, name), file=sys.stderr, flush=True)
    rows = []
    for name, *_ in cases:
        row = {'case': name, 'threads': a.threads, 'rounds': a.rounds, 'reps': a.reps}
        for key, values in times[name].items():
            row[key + '_ms'] = round(median(values), 1)
            row[key + '_per_round'] = [round(v, 1) for v in values]
        for key, values in extra[name].items():
            row[key] = values
        row['fp32_ratio'] = round(row['ours_fp32_ms'] / row['openvino_fp32_ms'], 3)
        row['bf16_ratio'] = round(row['ours_bf16_ms'] / row['openvino_bf16_ms'], 3)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print('\n| case | OpenVINO fp32 | ours fp32 | ratio | OpenVINO bf16 | ours bf16 | ratio |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        print('| %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |' % (r['case'], r['openvino_fp32_ms'], r['ours_fp32_ms'], r['fp32_ratio'],
                                                               r['openvino_bf16_ms'], r['ours_bf16_ms'], r['bf16_ratio']))


if __name__ == '__main__':
    main()
