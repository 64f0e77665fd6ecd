# A fourth cycle for the embedded person detector: start from the third cycle's weights (--weights),
# 15000 fresh images (synth seed 24) whose boxes follow COCO's box convention (pixel i spans
# [i, i + 1); the earlier sets' boxes sat half a pixel left of and above what is drawn), the third
# cycle's rate for 6 epochs, x0.1 at epochs 4 and 5. Lists replace the base's whole (as mmengine's).
_base_ = ['./person_detector_cycle3.py']
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=6, val_interval=1)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=300),
                   dict(type='MultiStepLR', begin=0, end=6, by_epoch=True, milestones=[4, 5], gamma=0.1)]
