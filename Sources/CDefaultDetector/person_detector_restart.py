# A second cycle for the embedded person detector: start from its weights (--weights), fresh images
# (another synth seed), a warm restart at half the first cycle's rate, x0.1 at epochs 4 and 6 of 7.
_base_ = ['./person_detector.py']
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=7, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
                     paramwise_cfg=dict(bias_lr_mult=2., bias_decay_mult=0.), clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=300),
                   dict(type='MultiStepLR', begin=0, end=7, by_epoch=True, milestones=[4, 6], gamma=0.1)]
