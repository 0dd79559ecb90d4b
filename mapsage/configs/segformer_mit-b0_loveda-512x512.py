# SegFormer MiT-B0 on LoveDA, 512x512 crops, 40k iterations.
_base_ = [
    './_base_/models/segformer_mit.py', './_base_/datasets/loveda.py',
    './_base_/default_runtime.py', './_base_/schedules/schedule_40k.py'
]
model = dict(
    backbone=dict(
        embed_dims=32,
        num_heads=[1, 2, 5, 8],
        num_layers=[2, 2, 2, 2]),
    decode_head=dict(in_channels=[32, 64, 160, 256]))
work_dir = './work_dirs/segformer_mit-b0_loveda-512x512'
