# SegFormer MiT-B2 on LoveDA: the MiT-B0 recipe (segformer_mit-b0_loveda-512x512.py) with the
# MiT-B2 encoder, started from the ImageNet-1k MiT-B2 weights mmseg's SegFormer configs name
# (configs/segformer/segformer_mit-b2_*.py, which inherit from b0 in the same way).
_base_ = ['./segformer_mit-b0_loveda-512x512.py']
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b2_20220624-66e8bf70.pth'
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint),
        embed_dims=64,
        num_layers=[3, 4, 6, 3]),
    decode_head=dict(in_channels=[64, 128, 320, 512]))
work_dir = './work_dirs/segformer_mit-b2_loveda-512x512'
