# A tiny SegFormer for CPUs, CI and the demo: the MiT-B0 structure at a quarter of its width,
# one block per stage, 128x128 crops. Same file structure as the MiT-B* configs.
_base_ = [
    './_base_/models/segformer_mit.py', './_base_/datasets/loveda.py',
    './_base_/default_runtime.py', './_base_/schedules/schedule_40k.py'
]
model = dict(
    backbone=dict(
        embed_dims=16,
        num_heads=[1, 2, 5, 8],
        num_layers=[1, 1, 1, 1],
        drop_path_rate=0.0),
    decode_head=dict(in_channels=[16, 32, 80, 128], channels=64))
# The synthetic demo tiles are 128x128: test at their own size, not LoveDA's 1024.
crop_size = (128, 128)
test_scale = (128, 128)
work_dir = './work_dirs/segformer_tiny_loveda-128x128'
