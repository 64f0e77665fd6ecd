#!/usr/bin/env python3
"""Generates the training fixtures under Tests/Fixtures/training/ (run from the repository root):

    /tmp/py/bin/python Tests/Fixtures/training/make_training_fixtures.py

What it writes:
- golden_step{1,2,3}.safetensors, golden.json, golden_target.npy, golden_target_weight.npy:
  three training steps of the tiny pose HRNet (Tests/Fixtures/hrnet/tiny_pose.*, the network of
  make_fixtures.py) in train mode (batch statistics, running statistics updated with momentum 0.1)
  with JointsMSELoss (target weights) and Adam lr 1e-3, from the fixture weights on the fixture
  input (hrnet/tiny_pose_input.npy). After each step: the full state dict (weights, running
  statistics, num_batches_tracked) and the loss of that step (before its update).
- optimizers.json: SGD (momentum, nesterov, weight decay), Adam, AdamW, gradient clipping and a
  frozen parameter on two small tensors over four steps of fixed gradients; learning rates of
  MultiStepLR, CosineAnnealingLR, LinearLR warm-up and the official poly rule.
- losses.json: JointsMSELoss, JointsOHKMMSELoss (top 3 of 5), CrossEntropyLoss (class weights, ignore 255), the official
  OhemCrossEntropy and MSELoss on small random inputs: loss and gradient (autograd); then CrossEntropyLoss
  with label smoothing 0.1 (per pixel with weights, and per image).

The losses are written here from their definitions (the official code's formulas: pose
lib/core/loss.py JointsMSELoss, segmentation lib/core/criterion.py CrossEntropy and
OhemCrossEntropy); the optimizers and schedules are PyTorch's own. Seeded and deterministic.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.dirname(HERE)
sys.path.insert(0, FIXTURES)
from make_fixtures import HRNet, tiny_pose_config  # noqa: E402  (the fixture network, not a copy)


def joints_mse(output, target, target_weight):
    """Official JointsMSELoss with USE_TARGET_WEIGHT: per joint 0.5 * MSE of the weighted maps,
    averaged over joints."""
    n, j = output.shape[:2]
    pred = output.reshape(n, j, -1)
    gt = target.reshape(n, j, -1)
    loss = 0
    for k in range(j):
        w = target_weight[:, k]
        loss = loss + 0.5 * F.mse_loss(pred[:, k] * w, gt[:, k] * w)
    return loss / j


def gaussian_targets(g, n, j, h, w, sigma=2.0):
    ys = torch.arange(h, dtype=torch.float32)[:, None]
    xs = torch.arange(w, dtype=torch.float32)[None, :]
    t = torch.zeros(n, j, h, w)
    for b in range(n):
        for k in range(j):
            cy = float(torch.rand((), generator=g)) * (h - 1)
            cx = float(torch.rand((), generator=g)) * (w - 1)
            t[b, k] = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma ** 2))
    return t


def make_golden():
    model = HRNet(tiny_pose_config())
    sd = load_file(os.path.join(FIXTURES, 'hrnet', 'tiny_pose.safetensors'))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.endswith('num_batches_tracked') for k in missing), (missing, unexpected)
    for k, v in model.state_dict().items():
        if k.endswith('num_batches_tracked'):
            v.zero_()
    x = torch.from_numpy(np.load(os.path.join(FIXTURES, 'hrnet', 'tiny_pose_input.npy')))
    g = torch.Generator().manual_seed(11)
    target = gaussian_targets(g, 2, 5, 24, 16)
    target_weight = torch.tensor([[1, 1, 0, 1, 1], [1, 1, 1, 0, 1]], dtype=torch.float32).reshape(2, 5, 1)
    np.save(os.path.join(HERE, 'golden_target.npy'), target.numpy().astype('<f4'))
    np.save(os.path.join(HERE, 'golden_target_weight.npy'), target_weight.numpy().astype('<f4'))

    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for step in range(1, 4):
        out = model(x)
        loss = joints_mse(out, target, target_weight)
        opt.zero_grad()
        loss.backward()
        if step == 1:
            # The first gradients: what the engine's backward must reproduce (Adam's first update,
            # lr * sign(g) where |g| >> eps, cannot tell how close two gradients are).
            grads = {k: p.grad.detach().clone().contiguous() for k, p in model.named_parameters()}
            path = os.path.join(HERE, 'golden_gradients_step1.safetensors')
            save_file(grads, path, metadata={'format': 'pt'})
            os.chmod(path, 0o644)
        opt.step()
        losses.append(loss.item())
        state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        path = os.path.join(HERE, 'golden_step%d.safetensors' % step)
        save_file(state, path, metadata={'format': 'pt'})
        os.chmod(path, 0o644)  # the safetensors writer creates files 0600
    with open(os.path.join(HERE, 'golden.json'), 'w') as f:
        json.dump({'optimizer': 'adam', 'lr': 1e-3, 'batch_norm_momentum': 0.1, 'losses': losses}, f, indent=1)


def tolist(t):
    return [float(v) for v in t.detach().reshape(-1)]


def make_optimizers():
    g = torch.Generator().manual_seed(21)
    p0 = [torch.randn(3, 4, generator=g), torch.randn(5, generator=g)]
    grads = [[torch.randn(3, 4, generator=g), torch.randn(5, generator=g)] for _ in range(4)]
    configs = {
        'sgd': lambda ps: torch.optim.SGD(ps, lr=0.1),
        'sgd_momentum_wd': lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-2),
        'sgd_nesterov_dampening': lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        'sgd_dampening': lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3),
        'adam': lambda ps: torch.optim.Adam(ps, lr=1e-2),
        'adam_wd': lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2),
        'adamw': lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
    }
    out = {'initial': [tolist(p) for p in p0], 'shapes': [list(p.shape) for p in p0],
           'gradients': [[tolist(t) for t in step] for step in grads], 'cases': []}
    for name, make in configs.items():
        for clip, frozen in ((None, False), (0.5, False), (None, True)):
            ps = [p.clone().requires_grad_(True) for p in p0]
            if frozen:
                ps[1].requires_grad_(False)
            opt = make(ps)
            after, norms = [], []
            for step in grads:
                for p, gr in zip(ps, step):
                    p.grad = gr.clone() if p.requires_grad else None
                if clip is not None:
                    norms.append(float(torch.nn.utils.clip_grad_norm_([p for p in ps if p.requires_grad], clip)))
                opt.step()
                after.append([tolist(p) for p in ps])
            out['cases'].append({'optimizer': name, 'clip': clip, 'frozen_second': frozen, 'norms': norms,
                                 'hyper': {k: (list(v) if isinstance(v, tuple) else v) for k, v in opt.param_groups[0].items()
                                           if k in ('lr', 'momentum', 'dampening', 'weight_decay', 'nesterov', 'betas', 'eps')},
                                 'after': after})

    def rates(make_scheduler, steps):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched = make_scheduler(opt)
        lrs = []
        for _ in range(steps):
            lrs.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
        return lrs

    lr = torch.optim.lr_scheduler
    out['schedules'] = {
        'base': 0.1,
        'multistep': rates(lambda o: lr.MultiStepLR(o, milestones=[3, 6], gamma=0.1), 10),
        'cosine': rates(lambda o: lr.CosineAnnealingLR(o, T_max=10, eta_min=1e-3), 11),
        'warmup': rates(lambda o: lr.LinearLR(o, start_factor=0.1, total_iters=5), 8),
        # The official segmentation rule: base * (1 - iter / max_iter) ** 0.9.
        'poly': [0.1 * ((1 - t / 10) ** 0.9) for t in range(10)],
    }
    with open(os.path.join(HERE, 'optimizers.json'), 'w') as f:
        json.dump(out, f)


def ohem(score, target, weight, thresh, min_kept, ignore=255):
    """The official OhemCrossEntropy._ohem_forward (score already at the label size)."""
    min_kept = max(1, min_kept)
    pixel_losses = F.cross_entropy(score, target, weight=weight, ignore_index=ignore, reduction='none').contiguous().view(-1)
    mask = target.contiguous().view(-1) != ignore
    tmp = target.clone()
    tmp[tmp == ignore] = 0
    pred = F.softmax(score, dim=1).gather(1, tmp.unsqueeze(1))
    pred, ind = pred.contiguous().view(-1)[mask].contiguous().sort()
    min_value = pred[min(min_kept, pred.numel() - 1)]
    threshold = max(min_value, thresh)
    pixel_losses = pixel_losses[mask][ind]
    pixel_losses = pixel_losses[pred < threshold]
    return pixel_losses.mean()


def make_losses():
    g = torch.Generator().manual_seed(31)
    cases = []

    out = torch.randn(2, 3, 4, 5, generator=g).requires_grad_(True)
    target = torch.rand(2, 3, 4, 5, generator=g)
    tw = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.5]]).reshape(2, 3, 1)
    loss = joints_mse(out, target, tw)
    loss.backward()
    cases.append({'loss': 'joints_mse', 'shape': [2, 3, 4, 5], 'output': tolist(out), 'target': tolist(target),
                  'target_weight': tolist(tw), 'value': loss.item(), 'gradient': tolist(out.grad)})

    out = torch.randn(2, 3, 4, 5, generator=g).requires_grad_(True)
    loss = F.mse_loss(out, target)
    loss.backward()
    cases.append({'loss': 'mse', 'shape': [2, 3, 4, 5], 'output': tolist(out), 'target': tolist(target),
                  'value': loss.item(), 'gradient': tolist(out.grad)})

    logits0 = torch.randn(2, 4, 3, 5, generator=g) * 2
    labels = torch.randint(0, 4, (2, 3, 5), generator=g)
    labels[0, 0, :2] = 255
    labels[1, 2, 4] = 255
    weights = torch.tensor([1.0, 2.0, 0.5, 1.5])
    for name, fn in (('cross_entropy', lambda z: F.cross_entropy(z, labels, weight=weights, ignore_index=255)),
                     ('cross_entropy_unweighted', lambda z: F.cross_entropy(z, labels, ignore_index=255)),
                     ('ohem_threshold', lambda z: ohem(z, labels, weights, 0.7, 5)),
                     ('ohem_min_kept', lambda z: ohem(z, labels, weights, 0.05, 20))):
        z = logits0.clone().requires_grad_(True)
        loss = fn(z)
        loss.backward()
        cases.append({'loss': name, 'shape': [2, 4, 3, 5], 'output': tolist(z), 'labels': [int(v) for v in labels.reshape(-1)],
                      'class_weights': tolist(weights) if 'unweighted' not in name else None,
                      'value': loss.item(), 'gradient': tolist(z.grad)})
    # Online hard keypoint mining (the official JointsOHKMMSELoss): per image, the top-k joints'
    # 0.5 x mean squared (weighted) error, summed / k, averaged over images. Distinct per-joint
    # losses, so the top-k choice has no ties.
    out = (torch.randn(2, 5, 3, 4, generator=g) * torch.arange(1, 6).reshape(1, 5, 1, 1)).requires_grad_(True)
    target = torch.rand(2, 5, 3, 4, generator=g)
    tw = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.5], [1.0, 1.0, 0.5, 0.0, 1.0]]).reshape(2, 5, 1)
    per_joint = 0.5 * ((out - target) * tw.unsqueeze(3)).pow(2).reshape(2, 5, -1).mean(2)
    loss = sum(per_joint[i].topk(3).values.sum() / 3 for i in range(2)) / 2
    loss.backward()
    cases.append({'loss': 'joints_ohkm_top3', 'shape': [2, 5, 3, 4], 'output': tolist(out), 'target': tolist(target),
                  'target_weight': tolist(tw), 'value': loss.item(), 'gradient': tolist(out.grad)})
    # Label smoothing 0.1 (PyTorch's own label_smoothing), appended last so the cases above keep
    # their random numbers: per-pixel with class weights and ignored pixels, and classification
    # logits (N, C) = (6, 5), seen by the engine as (6, 5, 1, 1).
    z = logits0.clone().requires_grad_(True)
    loss = F.cross_entropy(z, labels, weight=weights, ignore_index=255, label_smoothing=0.1)
    loss.backward()
    cases.append({'loss': 'cross_entropy_smoothing', 'shape': [2, 4, 3, 5], 'output': tolist(z),
                  'labels': [int(v) for v in labels.reshape(-1)], 'class_weights': tolist(weights), 'label_smoothing': 0.1,
                  'value': loss.item(), 'gradient': tolist(z.grad)})
    z = (torch.randn(6, 5, generator=g) * 3).requires_grad_(True)
    cls_labels = torch.randint(0, 5, (6,), generator=g)
    loss = F.cross_entropy(z, cls_labels, label_smoothing=0.1)
    loss.backward()
    cases.append({'loss': 'cross_entropy_smoothing_cls', 'shape': [6, 5, 1, 1], 'output': tolist(z),
                  'labels': [int(v) for v in cls_labels], 'class_weights': None, 'label_smoothing': 0.1,
                  'value': loss.item(), 'gradient': tolist(z.grad)})
    with open(os.path.join(HERE, 'losses.json'), 'w') as f:
        json.dump(cases, f)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    make_golden()
    make_optimizers()
    make_losses()


if __name__ == '__main__':
    main()
