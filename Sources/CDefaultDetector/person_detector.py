# A small FCOS-HRNetV2p person detector (HRNet-W18-small-like backbone, 320x240 input, levels at strides 4-64).
# Its backbone starts from the embedded pose model's (same stages): hrnet train --weights pose_default.safetensors.
# FCOS's improvements (centre sampling, distances over the stride, centerness on the regression tower, GIoU loss,
# NMS at IoU 0.6) as mmdetection's fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou config sets them.
# HRFPN at stride 1 adds a stride-4 level (HRNet's own resolution), and the regress ranges are twice
# mmdetection's, so each person is regressed from a map four times as fine as mmdetection's strides 8-128
# with their ranges would give at this input; trained on 15000 images for 9 epochs.
model = dict(
    type='FCOS',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395],
                           bgr_to_rgb=False, pad_size_divisor=32),
    backbone=dict(
        type='HRNet',
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ), num_channels=(32, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(2, 2), num_channels=(16, 32)),
            stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(2, 2, 2), num_channels=(16, 32, 64)),
            stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(2, 2, 2, 2), num_channels=(16, 32, 64, 128)))),
    neck=dict(type='HRFPN', in_channels=[16, 32, 64, 128], out_channels=64, stride=1, num_outs=5),
    bbox_head=dict(
        type='FCOSHead', num_classes=1, in_channels=64, stacked_convs=2, feat_channels=64, strides=[4, 8, 16, 32, 64],
        regress_ranges=((-1, 64), (64, 128), (128, 256), (256, 512), (512, 1e8)),
        center_sampling=True, center_sample_radius=1.5, norm_on_bbox=True, centerness_on_reg=True,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.6), max_per_img=100))
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                  dict(type='Resize', scale=(320, 240), keep_ratio=True), dict(type='RandomFlip', prob=0.5), dict(type='PackDetInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(320, 240), keep_ratio=True), dict(type='PackDetInputs')]
train_dataloader = dict(batch_size=8, dataset=dict(type='CocoDataset', ann_file='annotations/person_keypoints_train.json',
                                                   data_prefix=dict(img='images/train/'), pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='annotations/person_keypoints_val.json',
                                   data_prefix=dict(img='images/val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=9, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
                     paramwise_cfg=dict(bias_lr_mult=2., bias_decay_mult=0.), clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=300),
                   dict(type='MultiStepLR', begin=0, end=9, by_epoch=True, milestones=[6, 8], gamma=0.1)]
