# A tiny SegFormer for CPUs, CI and the demo: the MiT-B0 structure at a quarter of its width,
# one block per stage, 128x128 crops, trained from scratch (no ImageNet weights exist at this
# width). Same file structure as the MiT-B* configs; the demo's short schedule lives here.
_base_ = [
    './_base_/models/segformer_mit.py', './_base_/datasets/loveda.py',
    './_base_/default_runtime.py', './_base_/schedules/segformer_80k.py'
]
model = dict(
    backbone=dict(
        embed_dims=16,
        num_heads=[1, 2, 5, 8],
        num_layers=[1, 1, 1, 1],
        drop_path_rate=0.0),
    decode_head=dict(in_channels=[16, 32, 80, 128], channels=64))
# The synthetic demo tiles are 128x128: train on them whole and test at their own size, not
# LoveDA's 1024.
crop_size = (128, 128)
test_scale = (128, 128)
# The demo: 300 iterations of 8 images on a CPU, validation and a checkpoint every 100.
# lr 0.004 is given at the recipe's base batch of 16 (auto_scale_lr: 0.002 at 8 images); the
# warm-up is 10 % of the run.
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(optimizer=dict(lr=0.004))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', power=1.0, begin=30, end=300, eta_min=0.0, by_epoch=False)
]
train_cfg = dict(max_iters=300, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=100))
work_dir = './work_dirs/segformer_tiny_loveda-128x128'
