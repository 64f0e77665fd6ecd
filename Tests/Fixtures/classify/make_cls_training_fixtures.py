#!/usr/bin/env python3
"""Generates the classification training golden under Tests/Fixtures/classify/ (run from the
repository root, after make_classify_fixtures.py, whose tiny_cls.* it reads):

    /tmp/py/bin/pip install torch numpy pyyaml safetensors timm
    /tmp/py/bin/python Tests/Fixtures/classify/make_cls_training_fixtures.py

Two training steps of the tiny cls_hrnet (timm's HighResolutionNet with the narrow head of
make_classify_fixtures.py) in train mode: batch statistics in every BN, including the head's
downsample and final-layer BNs over maps as small as 2x1; cross-entropy with label smoothing 0.1;
SGD lr 0.05, momentum 0.9, nesterov, weight decay 1e-4 (PyTorch's own optimizer). From the
tiny_cls weights on a new batch of four images.

What it writes:
- cls_train_input.npy (4, 3, 64, 32), cls_train.json: the labels and the two steps' losses
  (each before its update);
- cls_train_gradients.safetensors: the gradients of the first step (every parameter);
- cls_train_step1.safetensors: the state dict after the first update (weights, running
  statistics, num_batches_tracked).

Seeded and deterministic (torch.set_num_threads(1)).
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from make_classify_fixtures import TINY_CFG, TINY_CLASSES, TinyHead  # noqa: E402
from make_fixtures import save_npy, write_safetensors  # noqa: E402

LABELS = [3, 7, 0, 9]
SMOOTHING = 0.1


def main():
    torch.set_num_threads(1)
    model = TinyHead(TINY_CFG, num_classes=TINY_CLASSES)
    model.load_state_dict(load_file(os.path.join(HERE, 'tiny_cls.safetensors')))
    model.train()
    x = torch.randn(4, 3, 64, 32, generator=torch.Generator().manual_seed(3))
    y = torch.tensor(LABELS)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    losses = []
    for step in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y, label_smoothing=SMOOTHING)
        loss.backward()
        losses.append(loss.item())
        if step == 0:
            grads = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
            write_safetensors(os.path.join(HERE, 'cls_train_gradients.safetensors'), grads)
        opt.step()
        if step == 0:
            write_safetensors(os.path.join(HERE, 'cls_train_step1.safetensors'), model.state_dict())
    save_npy(os.path.join(HERE, 'cls_train_input.npy'), x.numpy())
    with open(os.path.join(HERE, 'cls_train.json'), 'w') as f:
        json.dump({'labels': LABELS, 'label_smoothing': SMOOTHING, 'lr': 0.05, 'momentum': 0.9,
                   'weight_decay': 1e-4, 'losses': losses}, f, indent=1)
        f.write('\n')
    print('losses', losses)


if __name__ == '__main__':
    main()
