# The SegFormer recipe as mmseg publishes it (configs/segformer/segformer_mit-b0_8xb2-160k_ade20k-
# 512x512.py, inherited by all MiT sizes): AdamW lr 6e-5, betas (0.9, 0.999), weight decay 0.01,
# head learning rate x10, no weight decay on pos_block and norm layers; linear warm-up over 1500
# iterations, then poly decay (power 1.0) to the last iteration. 16 images per iteration
# (8 GPUs x 2), the base batch for auto_scale_lr.
# Length as mmseg's LoveDA configs (configs/*/*_4xb4-80k_loveda-512x512.py, 16 images per
# iteration): 80k iterations, validation every 8k (checkpoints: default_runtime.py). mmseg has no
# SegFormer LoveDA config; its 160k schedule is for ADE20K and Cityscapes.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=0.00006, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=None,
    paramwise_cfg=dict(
        custom_keys={
            'pos_block': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'head': dict(lr_mult=10.)
        }))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(
        type='PolyLR',
        power=1.0,
        begin=1500,
        end=80000,
        eta_min=0.0,
        by_epoch=False,
    )
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# The recipe's global batch: 8 GPUs x 2 images. MapSage enables auto_scale_lr: the lr above is
# for 16 images per iteration and is scaled linearly to the effective batch.
auto_scale_lr = dict(enable=False, base_batch_size=16)
