# SegFormer MiT-B4 on LoveDA: the published SegFormer recipe (AdamW lr 6e-5 at 16 images per
# iteration, 1500 warm-up iterations, poly decay; _base_/schedules/segformer_80k.py) with
# mmseg's LoveDA data settings (512x512 crops, test at 1024, 80k iterations), the encoder
# started from the ImageNet-1k MiT-B4 weights mmseg's SegFormer configs name
# (configs/segformer/segformer_mit-b4_*.py). 2 images per GPU as there (8 GPUs x 2 = 16).
_base_ = [
    './_base_/models/segformer_mit.py', './_base_/datasets/loveda.py',
    './_base_/default_runtime.py', './_base_/schedules/segformer_80k.py'
]
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b4_20220624-d588d980.pth'
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint),
        embed_dims=64,
        num_heads=[1, 2, 5, 8],
        num_layers=[3, 8, 27, 3]),
    decode_head=dict(in_channels=[64, 128, 320, 512]))
train_dataloader = dict(batch_size=2)
work_dir = './work_dirs/segformer_mit-b4_loveda-512x512'
