# A third cycle for the embedded person detector: start from the second cycle's weights (--weights),
# 15000 fresh images (synth seed 23), a warm restart at a quarter of the first cycle's rate, x0.1 at
# epochs 3 and 4 of 5.
_base_ = ['./person_detector.py']
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=5, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=0.0001),
                     paramwise_cfg=dict(bias_lr_mult=2., bias_decay_mult=0.), clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=300),
                   dict(type='MultiStepLR', begin=0, end=5, by_epoch=True, milestones=[3, 4], gamma=0.1)]
