#!/usr/bin/python3
"""Golden files for the convolutions of package tensor.

Writes testdata/golden/conv/conv.json (index) and conv.bin (little-endian
float32) from PyTorch's conv2d, conv_transpose2d and conv1d: for each case
the input x, weight w, bias b (when the case has one), the output gradient gy,
and PyTorch's output y and gradients gx, gw, gb. Inputs are drawn in float32
with a fixed seed; the outputs and gradients are computed by PyTorch in
float64 from those float32 values, then rounded to float32.

The cases cover strides, paddings, dilations, output paddings, rectangular
kernels, no bias, causal Conv1d (conv1d with padding p and the last p outputs
dropped, as in a temporal convolution block), and the layer geometries of the
HALO mnist and sprites presets at batch 1-2 (channel counts cut where the full
weight would make the files large).

Run from the repository root with Debian's python: /usr/bin/python3 scripts/golden_conv.py
"""

import json
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join('testdata', 'golden', 'conv')

# name, op, N, Cin, spatial, Cout, kernel, stride, padding, dilation, output_padding, bias, causal
# spatial and the hyper-parameters are (H, W) pairs for 2-D ops, ints for conv1d.
CASES = [
    ('conv_basic', 'conv2d', 2, 3, (9, 7), 4, (3, 3), (1, 1), (1, 1), (1, 1), None, True, False),
    ('conv_rect_s2_d2', 'conv2d', 3, 2, (11, 10), 5, (3, 2), (2, 3), (2, 1), (2, 1), None, True, False),
    ('conv_nobias_s3', 'conv2d', 1, 4, (8, 13), 3, (2, 4), (3, 2), (0, 3), (1, 2), None, False, False),
    ('conv_1x1', 'conv2d', 2, 6, (5, 5), 3, (1, 1), (1, 1), (0, 0), (1, 1), None, True, False),
    ('convT_basic', 'conv_transpose2d', 2, 3, (5, 4), 4, (3, 3), (2, 2), (1, 1), (1, 1), (1, 0), True, False),
    ('convT_rect_d2', 'conv_transpose2d', 2, 3, (5, 6), 2, (3, 2), (2, 3), (1, 0), (1, 2), (1, 2), True, False),
    ('convT_op_from_dil', 'conv_transpose2d', 1, 2, (4, 5), 3, (3, 3), (1, 1), (1, 1), (2, 2), (1, 1), False, False),
    ('convT_s3_p3', 'conv_transpose2d', 3, 2, (3, 4), 2, (4, 5), (3, 3), (3, 2), (1, 1), (2, 0), True, False),
    # HALO mnist preset (torch_halo.py ARCHS['mnist']).
    ('mnist_enc_conv1', 'conv2d', 1, 1, (28, 28), 128, (5, 5), (2, 2), (2, 2), (1, 1), None, True, False),
    ('mnist_enc_conv2_c16', 'conv2d', 2, 16, (14, 14), 16, (5, 5), (2, 2), (2, 2), (1, 1), None, True, False),
    ('mnist_enc_conv3_c16', 'conv2d', 2, 16, (7, 7), 16, (5, 5), (2, 2), (2, 2), (1, 1), None, True, False),
    ('mnist_dec_convT1_c16', 'conv_transpose2d', 2, 16, (4, 4), 16, (3, 3), (1, 1), (0, 0), (1, 1), (0, 0), True, False),
    ('mnist_dec_convT2_c16', 'conv_transpose2d', 2, 16, (6, 6), 16, (5, 5), (2, 2), (1, 1), (1, 1), (0, 0), True, False),
    ('mnist_dec_convT3_c16', 'conv_transpose2d', 1, 16, (13, 13), 16, (5, 5), (2, 2), (1, 1), (1, 1), (1, 1), True, False),
    ('mnist_dec_convT4_c16', 'conv_transpose2d', 1, 16, (28, 28), 1, (5, 5), (1, 1), (2, 2), (1, 1), (0, 0), True, False),
    # HALO sprites preset (torch_halo.py ARCHS['sprites']).
    ('sprites_enc_conv1_c8', 'conv2d', 1, 3, (64, 64), 8, (5, 5), (1, 1), (2, 2), (1, 1), None, True, False),
    ('sprites_enc_conv2_c8', 'conv2d', 1, 8, (32, 32), 8, (5, 5), (2, 2), (2, 2), (1, 1), None, True, False),
    ('sprites_enc_conv5_c8', 'conv2d', 2, 8, (8, 8), 8, (5, 5), (1, 1), (2, 2), (1, 1), None, True, False),
    ('sprites_dec_convT1_c8', 'conv_transpose2d', 2, 8, (8, 8), 8, (5, 5), (2, 2), (2, 2), (1, 1), (1, 1), True, False),
    ('sprites_dec_convT4_c8', 'conv_transpose2d', 1, 8, (32, 32), 3, (5, 5), (1, 1), (2, 2), (1, 1), (0, 0), True, False),
    # Temporal block of HALO (kernel 4, padding 3, causal chomp), v = 64 as in the mnist preset.
    ('tcn_causal_v64', 'conv1d', 2, 64, 16, 64, 4, 1, 3, 1, None, True, True),
    ('tcn_causal_d2', 'conv1d', 2, 5, 13, 4, 3, 1, 4, 2, None, True, True),
    ('conv1d_s2_d2', 'conv1d', 3, 3, 11, 5, 3, 2, 2, 2, None, True, False),
    ('conv1d_nobias', 'conv1d', 1, 4, 9, 2, 5, 1, 0, 1, None, False, False),
]


def run_case(gen, case):
    name, op, n, cin, sp, cout, k, s, p, d, op_pad, has_bias, causal = case
    if op == 'conv2d':
        xshape = (n, cin) + tuple(sp)
        wshape = (cout, cin) + tuple(k)
    elif op == 'conv_transpose2d':
        xshape = (n, cin) + tuple(sp)
        wshape = (cin, cout) + tuple(k)
    else:
        xshape = (n, cin, sp)
        wshape = (cout, cin, k)
    x = torch.randn(xshape, generator=gen, dtype=torch.float32)
    fan_in = cin * int(np.prod(k))
    w = torch.randn(wshape, generator=gen, dtype=torch.float32) / np.sqrt(fan_in)
    b = torch.randn((cout,), generator=gen, dtype=torch.float32) if has_bias else None

    xd = x.double().requires_grad_(True)
    wd = w.double().requires_grad_(True)
    bd = b.double().requires_grad_(True) if has_bias else None
    if op == 'conv2d':
        y = F.conv2d(xd, wd, bd, stride=s, padding=p, dilation=d)
    elif op == 'conv_transpose2d':
        y = F.conv_transpose2d(xd, wd, bd, stride=s, padding=p, output_padding=op_pad, dilation=d)
    else:
        y = F.conv1d(xd, wd, bd, stride=s, padding=p, dilation=d)
        if causal:
            assert s == 1, 'causal chomp equals left-only padding at stride 1 only'
            y = y[:, :, :-p]
    gy = torch.randn(y.shape, generator=gen, dtype=torch.float32)
    y.backward(gy.double())

    tensors = [('x', x), ('w', w)]
    if has_bias:
        tensors.append(('b', b))
    tensors += [('gy', gy), ('y', y.detach()), ('gx', xd.grad), ('gw', wd.grad)]
    if has_bias:
        tensors.append(('gb', bd.grad))
    meta = dict(name=name, op=op, bias=has_bias, causal=causal)
    if op == 'conv1d':
        meta.update(stride=s, padding=p, dilation=d)
    else:
        meta.update(stride=list(s), padding=list(p), dilation=list(d))
        if op == 'conv_transpose2d':
            meta['output_padding'] = list(op_pad)
    return meta, tensors


def main():
    gen = torch.Generator().manual_seed(20211206)
    chunks = []
    offset = 0
    index = []
    for case in CASES:
        meta, tensors = run_case(gen, case)
        meta['tensors'] = {}
        for tname, t in tensors:
            a = t.detach().to(torch.float32).contiguous().numpy().astype('<f4')
            meta['tensors'][tname] = dict(offset=offset, shape=list(a.shape))
            chunks.append(a.ravel())
            offset += a.size
        index.append(meta)
    data = np.concatenate(chunks).astype('<f4')
    os.makedirs(OUT, exist_ok=True)
    doc = dict(
        description='PyTorch %s conv2d / conv_transpose2d / conv1d golden values (float64 compute, stored float32); '
                    'offsets and shapes in float32 elements of conv.bin' % torch.__version__,
        generator='scripts/golden_conv.py', floats=int(data.size), cases=index)
    tmp = os.path.join(OUT, 'conv.bin.tmp')
    with open(tmp, 'wb') as f:
        f.write(data.tobytes())
    os.replace(tmp, os.path.join(OUT, 'conv.bin'))
    tmp = os.path.join(OUT, 'conv.json.tmp')
    with open(tmp, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    os.replace(tmp, os.path.join(OUT, 'conv.json'))
    print('%d cases, %d floats, %.1f KiB' % (len(index), data.size, data.size * 4 / 1024))


if __name__ == '__main__':
    main()
