#!/usr/bin/env python3
"""HRNet beside the encoder-decoder baselines, on the same data, recipe, budget and machine.

    swift build -c release
    python3 Benchmarks/baselines.py [--work /tmp/baselines] [--epochs 30] [--only pose|seg]

Pose: `hrnet synth` figures (train and val splits), input 256x192, 17 keypoints; HRNet (the
embedded default model's layout), SimpleBaseline-R18 (the official pose_resnet) and a stacked
hourglass sized near HRNet's GFLOP, each trained from its initial values by the same recipe
(Benchmarks/baselines/pose_*.yaml: Adam 1e-3, batch 32, END_EPOCH = 20 epochs, rate / 10 at epoch 16),
then evaluated on the val split (ground-truth boxes, flip test): AP, AP75.
Segmentation: `hrnet synth-seg` (128x96, 6 classes: background, disc, box, triangle, wire, ring),
HRNetV2 against U-Net of similar GFLOP (Benchmarks/baselines/seg_*.yaml: SGD 0.02 poly, batch 16,
96x96 crops): mIoU and the IoU of the thin wires, the structure a network that loses resolution
loses first.
Beside the scores: parameters and GFLOP (`hrnet info`), inference latency at batch 1 and training
images/s at the recipe's batch (`hrnet bench`, --threads), and the wall time of each training run.
Writes WORK/results.json and prints the tables as Markdown. Python's standard library only: the
work is done by the hrnet binary.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

POSE = [('HRNet (default layout)', 'pose_hrnet'), ('SimpleBaseline-R18', 'pose_resnet18'), ('Hourglass, 2 stacks', 'pose_hourglass')]
SEG = [('HRNetV2 (32/64/128/256)', 'seg_hrnet'), ('U-Net (base 16)', 'seg_unet')]


def run(cmd, log=None):
    """Runs an hrnet command; its output goes to `log` (and the terminal when there is one)."""
    print('$ ' + ' '.join(cmd), flush=True)
    start = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if log:
        with open(log, 'a') as f:
            f.write('$ ' + ' '.join(cmd) + '\n' + p.stdout + p.stderr)
    if p.returncode != 0:
        sys.exit('failed (%d): %s\n%s' % (p.returncode, ' '.join(cmd), p.stderr[-2000:]))
    return p.stdout, time.time() - start


def info(hrnet, config):
    out, _ = run([hrnet, 'info', '--config', config])
    params = int(re.search(r'parameters .*\((\d+)\)', out).group(1))
    gflop = float(re.search(r'GFLOP\s+([\d.]+)', out).group(1))
    return params, gflop


def bench(hrnet, config, threads, train_batch):
    out, _ = run([hrnet, 'bench', '--config', config, '--threads', str(threads), '--runs', '20', '--warmup', '3', '--json'])
    latency = json.loads(out)
    out, _ = run([hrnet, 'bench', '--train', '--config', config, '--batch', str(train_batch), '--threads', str(threads),
                  '--runs', '5', '--warmup', '1', '--json'])
    train = json.loads(out)
    return {'latency_ms': latency['median_ms'], 'peak_rss_mb': latency['peak_rss_mb'], 'peak_gflops': latency.get('peak_gflops'),
            'train_images_per_s': train['images_per_s']}


def train(hrnet, config, data, out, args, log):
    cmd = [hrnet, 'train', '--config', config, '--data', data, '--out', out, '--threads', str(args.threads), '--seed', '0',
           '--eval-every', str(args.eval_every)]
    if args.epochs:
        cmd += ['--epochs', str(args.epochs)]
    if os.path.exists(os.path.join(out, 'checkpoint.json')):
        cmd += ['--resume', os.path.join(out, 'checkpoint.json')]
    _, seconds = run(cmd, log)
    return seconds


def pose(args, hrnet, log):
    data = os.path.join(args.work, 'synth')
    if not os.path.isdir(data):
        run([hrnet, 'synth', '--out', data, '--images', str(args.pose_images), '--seed', '1', '--val-fraction', '0.1'], log)
    rows = []
    for name, key in POSE:
        config = os.path.join(HERE, 'baselines', key + '.yaml')
        out = os.path.join(args.work, 'runs', key)
        seconds = train(hrnet, config, data, out, args, log)
        weights = os.path.join(out, 'final.safetensors')
        result = os.path.join(args.work, key + '_val_results.json')
        stdout, _ = run([hrnet, 'eval', '--config', config, '--weights', weights, '--data', data, '--split', 'val',
                         '--threads', str(args.threads), '--json', '--out-json', result, '--force'], log)
        stats = json.loads(stdout)['stats']
        params, gflop = info(hrnet, config)
        rows.append(dict(name=name, config=key, ap=stats[0], ap50=stats[1], ap75=stats[2], params=params, gflop=gflop,
                         train_minutes=seconds / 60, **bench(hrnet, config, args.threads, 32)))
    return rows


def seg(args, hrnet, log):
    data = os.path.join(args.work, 'synthseg')
    if not os.path.isdir(data):
        run([hrnet, 'synth-seg', '--out', data, '--size', '128x96', '--classes', '6', '--train', str(args.seg_train),
             '--val', str(args.seg_val), '--seed', '1'], log)
    rows = []
    for name, key in SEG:
        config = os.path.join(HERE, 'baselines', key + '.yaml')
        out = os.path.join(args.work, 'runs', key)
        seconds = train(hrnet, config, data, out, args, log)
        metrics = os.path.join(args.work, key + '_eval.json')
        run([hrnet, 'eval-seg', '--config', config, '--weights', os.path.join(out, 'final.safetensors'), '--data', data,
             '--split', 'val', '--threads', str(args.threads), '--json', metrics, '--force'], log)
        m = json.load(open(metrics))
        iou = dict(zip(m['classes'], m['iou']))
        params, gflop = info(hrnet, config)
        rows.append(dict(name=name, config=key, miou=m['mean_iou'], wire_iou=iou.get('wire'), ring_iou=iou.get('ring'), params=params,
                         gflop=gflop, train_minutes=seconds / 60, **bench(hrnet, config, args.threads, 16)))
    return rows


def table(rows, columns):
    head = '| ' + ' | '.join(c[0] for c in columns) + ' |'
    rule = '|' + '|'.join('---' for _ in columns) + '|'
    body = ['| ' + ' | '.join(c[1](r) for c in columns) + ' |' for r in rows]
    return '\n'.join([head, rule] + body)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--hrnet', default=os.path.join(ROOT, '.build', 'release', 'hrnet'))
    p.add_argument('--work', default='/tmp/baselines')
    p.add_argument('--epochs', type=int, default=0, help='override END_EPOCH (0: the configs\' 20)')
    p.add_argument('--eval-every', type=int, default=5)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--pose-images', type=int, default=1500)
    p.add_argument('--seg-train', type=int, default=800)
    p.add_argument('--seg-val', type=int, default=100)
    p.add_argument('--only', choices=['pose', 'seg'])
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    log = os.path.join(args.work, 'log.txt')
    results = {'machine': os.uname().nodename, 'date': time.strftime('%Y-%m-%d'), 'epochs': args.epochs or 20}
    f = lambda x: '%.3f' % x
    if args.only != 'seg':
        results['pose'] = pose(args, args.hrnet, log)
    if args.only != 'pose':
        results['seg'] = seg(args, args.hrnet, log)
    with open(os.path.join(args.work, 'results.json'), 'w') as out:
        json.dump(results, out, indent=1)
    common = [('params', lambda r: '%.2f M' % (r['params'] / 1e6)), ('GFLOP', lambda r: '%.2f' % r['gflop']),
              ('latency b1 ms', lambda r: '%.1f' % r['latency_ms']), ('train img/s', lambda r: '%.1f' % r['train_images_per_s']),
              ('training min', lambda r: '%.0f' % r['train_minutes'])]
    if 'pose' in results:
        print('\n' + table(results['pose'], [('pose model', lambda r: r['name']), ('AP', lambda r: f(r['ap'])),
                                             ('AP50', lambda r: f(r['ap50'])), ('AP75', lambda r: f(r['ap75']))] + common))
    if 'seg' in results:
        print('\n' + table(results['seg'], [('segmentation model', lambda r: r['name']), ('mIoU', lambda r: f(r['miou'])),
                                            ('wire IoU', lambda r: f(r['wire_iou'])), ('ring IoU', lambda r: f(r['ring_iou']))] + common))


if __name__ == '__main__':
    main()
