# SegFormer MiT-B4 on LoveDA: the MiT-B0 recipe (segformer_mit-b0_loveda-512x512.py) with the
# MiT-B4 encoder, started from the ImageNet-1k MiT-B4 weights mmseg's SegFormer configs name
# (configs/segformer/segformer_mit-b4_*.py, which inherit from b0 in the same way).
_base_ = ['./segformer_mit-b0_loveda-512x512.py']
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b4_20220624-d588d980.pth'
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint),
        embed_dims=64,
        num_layers=[3, 8, 27, 3]),
    decode_head=dict(in_channels=[64, 128, 320, 512]))
work_dir = './work_dirs/segformer_mit-b4_loveda-512x512'
