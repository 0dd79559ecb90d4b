# LoveDA read in its published folder layout, no conversion step:
#   <data_root>/Train/{Urban,Rural}/{images_png,masks_png}/*.png
#   <data_root>/Val/{Urban,Rural}/{images_png,masks_png}/*.png
# Each split is a ConcatDataset of its Urban and Rural folders. Masks hold 0 = no-data and
# 1..7 = the 7 classes, so reduce_zero_label=True maps 0 -> 255 (ignored) and 1..7 -> 0..6.
# mapsage.training.config rewrites data_root and keeps only the domains present on disk.
dataset_type = 'LoveDADataset'
data_root = 'data/LoveDA'
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # reduce_zero_label comes from the dataset
    dict(
        type='RandomResize',
        scale=(2048, 512),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
# Test-time resize as in mmseg's LoveDA base: LoveDA tiles are 1024x1024.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
    # annotations are loaded after Resize: metrics are computed at the mask's own size
    dict(type='LoadAnnotations'),  # reduce_zero_label comes from the dataset
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                reduce_zero_label=True,
                data_prefix=dict(
                    img_path='Train/Urban/images_png',
                    seg_map_path='Train/Urban/masks_png'),
                pipeline=train_pipeline),
            dict(
                type=dataset_type,
                data_root=data_root,
                reduce_zero_label=True,
                data_prefix=dict(
                    img_path='Train/Rural/images_png',
                    seg_map_path='Train/Rural/masks_png'),
                pipeline=train_pipeline),
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                reduce_zero_label=True,
                data_prefix=dict(
                    img_path='Val/Urban/images_png',
                    seg_map_path='Val/Urban/masks_png'),
                pipeline=test_pipeline),
            dict(
                type=dataset_type,
                data_root=data_root,
                reduce_zero_label=True,
                data_prefix=dict(
                    img_path='Val/Rural/images_png',
                    seg_map_path='Val/Rural/masks_png'),
                pipeline=test_pipeline),
        ]))
# LoveDA's Test split ships without masks; evaluation uses Val.
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
