# A tiny FCN for CPUs and tests: mmseg's FCN recipe (configs/_base_/models/fcn_r50-d8.py: a
# dilated ResNetV1c, output stride 8, FCNHead) at ResNet-18 depth and a quarter of its width,
# trained from scratch (no ImageNet weights exist at this width), 128x128 crops. Not a SegFormer:
# the example of "any mmseg model" for a data set of your own (issue 23).
# The data set below is a placeholder in mmseg's img_dir/ann_dir layout; whoever runs the config
# sets data_root, metainfo (classes, palette), the suffixes, reduce_zero_label and
# decode_head.num_classes for the real one.
_base_ = ['./_base_/default_runtime.py']

crop_size = (128, 128)
num_classes = 5
# Plain BN: one device or the CPU. MapSage switches heads to SyncBN only for distributed CUDA.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        in_channels=3,
        stem_channels=16,
        base_channels=16,  # stage widths 16, 32, 64, 128
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='FCNHead',
        in_channels=128,
        in_index=3,
        channels=64,
        num_convs=2,
        concat_input=True,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        # average over labelled pixels only: ignored pixels (255) carry no loss
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# The data set: a placeholder in mmseg's layout
#   <data_root>/img_dir/{train,val}/*<img_suffix>, <data_root>/ann_dir/{train,val}/*<seg_map_suffix>
dataset_type = 'BaseSegDataset'
data_root = 'data/your-dataset'
metainfo = dict(
    classes=('background', 'class 1', 'class 2', 'class 3', 'class 4'),
    palette=[[0, 0, 0], [230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25]])
img_suffix = '.jpg'
seg_map_suffix = '.png'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # reduce_zero_label comes from the dataset
    # images of any size are scaled to about 128 px on the short side, then cropped
    dict(
        type='RandomResize',
        scale=(512, 128),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(512, 128), keep_ratio=True),
    # annotations are loaded after Resize: metrics are computed at the mask's own size
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix=img_suffix,
        seg_map_suffix=seg_map_suffix,
        reduce_zero_label=False,
        data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix=img_suffix,
        seg_map_suffix=seg_map_suffix,
        reduce_zero_label=False,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline))
# no masks for img_dir/test in the usual layout: evaluation uses val
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# The schedule: 300 iterations of 8 images, AdamW with a short linear warm-up then poly decay;
# validation and a checkpoint every 100.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.003, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', power=1.0, begin=30, end=300, eta_min=0.0, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=300, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# lr above is for 8 images per iteration
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=100))
work_dir = './work_dirs/fcn_tiny-128x128'
