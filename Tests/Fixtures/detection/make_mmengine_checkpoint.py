#!/usr/bin/env python3
"""Writes tiny_fcos_mmengine.pth: the tiny FCOS's weights in the container mmengine's Runner
saves (mmdet 3.x training checkpoints), beside what the zoo files hold: `meta` with the merged
config as `cfg` and the classes under `dataset_meta`, and `message_hub` (logged scalars in
mmengine's HistoryBuffer, numpy arrays inside), `optimizer` and `param_schedulers`. The loader
must read the state dict and meta and pass over the rest without building any of it.

    /work/venv-det/bin/python Tests/Fixtures/detection/make_mmengine_checkpoint.py

(venv as in make_detection_fixtures.py). Deterministic: a file that loads to the same object is kept.
"""
import os
import sys
from collections import OrderedDict

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_detection_fixtures import torch_save  # noqa: E402  (our own helper: keep bytes when unchanged)

from mmengine.config import Config  # noqa: E402
from mmengine.logging import MessageHub  # noqa: E402


def main():
    source = torch.load(os.path.join(HERE, 'tiny_fcos.pth'), weights_only=True)
    state = source['state_dict']
    hub = MessageHub.get_instance('tiny_fcos_fixture')
    for step, loss in enumerate([2.5, 2.25, 2.0]):
        hub.update_scalar('train/loss', loss)
        hub.update_scalar('train/lr', 0.01 * (step + 1))
    hub.update_info('epoch', 12)
    names = list(state.keys())[:2]  # a few optimizer entries keep the file small; the format is the point
    optimizer = {'state': {i: {'momentum_buffer': torch.zeros_like(state[k])} for i, k in enumerate(names)},
                 'param_groups': [{'lr': 0.01, 'momentum': 0.9, 'dampening': 0, 'weight_decay': 0.0001,
                                   'nesterov': False, 'maximize': False, 'foreach': None, 'differentiable': False,
                                   'fused': None, 'params': list(range(len(names)))}]}
    cfg_text = Config.fromfile(os.path.join(HERE, 'tiny_fcos_hrnet.py')).pretty_text
    classes = tuple(source['meta']['CLASSES'])
    checkpoint = OrderedDict(
        meta=OrderedDict(dataset_meta={'classes': classes, 'palette': [(220, 20, 60)] * len(classes)},
                         seed=0, experiment_name='tiny_fcos_hrnet', time='20261204_000000', mmengine_version='0.10.7',
                         epoch=12, iter=1000, cfg=cfg_text),
        state_dict=state,
        message_hub=hub.state_dict(),
        optimizer=optimizer,
        param_schedulers=[{'begin': 0, 'end': 12, 'by_epoch': True, 'milestones': {8: 1, 11: 1}, 'gamma': 0.1,
                           'last_step': 12, 'verbose': False, '_get_lr_called_within_step': False,
                           '_last_value': [np.float64(0.0001)]}])
    path = os.path.join(HERE, 'tiny_fcos_mmengine.pth')
    torch_save(checkpoint, path)
    # What mmdet's own loader reads back (weights_only=False: numpy and mmengine objects inside).
    back = torch.load(path, weights_only=False)
    assert all(torch.equal(back['state_dict'][k], state[k]) for k in state)
    print('wrote', path, os.path.getsize(path), 'bytes; message_hub keys', list(back['message_hub'].keys()))


if __name__ == '__main__':
    main()
