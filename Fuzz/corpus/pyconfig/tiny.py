_base_ = []
model = dict(type='FCOS', data_preprocessor=dict(type='DetDataPreprocessor', mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0], bgr_to_rgb=False, pad_size_divisor=32),
    backbone=dict(type='HRNet', extra=dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ), num_channels=(8, )),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1), num_channels=(4, 8)),
        stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1), num_channels=(4, 8, 16)),
        stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1), num_channels=(4, 8, 16, 32)))),
    neck=dict(type='HRFPN', in_channels=[4, 8, 16, 32], out_channels=16, stride=2, num_outs=5),
    bbox_head=dict(type='FCOSHead', num_classes=2, in_channels=16, stacked_convs=1, feat_channels=16, strides=[8, 16, 32, 64, 128],
                   norm_cfg=dict(type='GN', num_groups=4, requires_grad=True)),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64 * 2, 48 + 16 // 3), keep_ratio=True)]
