#!/usr/bin/python3
"""Golden files for package layers, from PyTorch.

For every layer (Linear, Conv2d, ConvTranspose2d, Conv1d, BatchNorm1d/2d in
training and evaluation, a two-layer bidirectional batch-first LSTM, the
weight-normalised causal temporal block), for a small composite network (no
biases before its batch norms) with the losses of package tensor, and for 10
training steps of that network with Adam, StepLR and gradient clipping,
writes one safetensors file to testdata/golden/layers/<case>.safetensors
holding:

  state.<name>         the module's state dict before the forward pass
  input.<name>         the inputs
  output.<name>        PyTorch's outputs (float32)
  proj.<name>          random weights r: the loss is sum(r * output)
  grad.input.<name>    gradients of that loss with respect to the inputs
  grad.param.<name>    ... and to every parameter
  after.<name>         the state dict after the pass (running statistics)

The Adam case instead holds state.*, input.*, losses (one per step) and
final.* (the state dict after 10 steps).

Everything is float32 on the CPU with a fixed seed. Run from the repository
root with Debian's python: /usr/bin/python3 scripts/golden_layers.py
"""

import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join('testdata', 'golden', 'layers')


def write_safetensors(path, tensors):
    """Minimal safetensors writer: JSON header, then little-endian data."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name]
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.array(a, copy=True, order='C')  # keeps 0-d arrays 0-d
        if a.dtype == np.int64:
            dt = 'I64'
        else:
            a = a.astype('<f4')
            dt = 'F32'
        b = a.tobytes()
        header[name] = {'dtype': dt, 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def state(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def run_case(name, module, inputs, forward):
    """inputs: dict name -> tensor; forward(module, **inputs) -> dict of outputs."""
    out = {}
    for k, v in state(module).items():
        out['state.' + k] = v
    ins = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    for k, v in inputs.items():
        out['input.' + k] = v
    outputs = forward(module, **ins)
    loss = 0
    for k, y in outputs.items():
        r = torch.randn(y.shape)
        out['output.' + k] = y
        out['proj.' + k] = r
        loss = loss + (r * y).sum()
    loss.backward()
    for k, v in ins.items():
        out['grad.input.' + k] = v.grad
    for k, p in module.named_parameters():
        out['grad.param.' + k] = p.grad
    for k, v in state(module).items():
        out['after.' + k] = v
    write_safetensors(os.path.join(OUT, name + '.safetensors'), out)


class TemporalBlock(nn.Module):
    """HALO's momentum network block: two weight-normed causal Conv1d (padding
    then chomp), leaky ReLU 0.2, identity residual, leaky ReLU 0.2."""

    def __init__(self, ch, k, d):
        super().__init__()
        self.pad = (k - 1) * d
        self.conv1 = nn.utils.weight_norm(nn.Conv1d(ch, ch, k, padding=self.pad, dilation=d))
        self.conv2 = nn.utils.weight_norm(nn.Conv1d(ch, ch, k, padding=self.pad, dilation=d))

    def forward(self, x):
        out = F.leaky_relu(self.conv1(x)[:, :, :-self.pad], 0.2)
        out = F.leaky_relu(self.conv2(out)[:, :, :-self.pad], 0.2)
        return F.leaky_relu(out + x, 0.2)


def composite(bias=False):
    """bias=False drops the biases that a BatchNorm follows: their gradient is
    zero up to rounding, noise that cannot be compared (and that Adam would
    blow up to full-size steps)."""
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, 2, 1, bias=bias), nn.BatchNorm2d(4), nn.ReLU(),
        nn.ConvTranspose2d(4, 3, 3, 2, 1, output_padding=1, bias=bias), nn.BatchNorm2d(3), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(3 * 8 * 8, 10, bias=bias), nn.BatchNorm1d(10), nn.Tanh(), nn.Linear(10, 4))


def composite_loss(net, x, target, target01):
    y = net(x)
    return (F.mse_loss(y, target, reduction='sum') + F.l1_loss(y, target)
            + F.binary_cross_entropy(torch.sigmoid(y), target01)
            + -0.5 * torch.sum(1 + y[:, 2:] - y[:, :2].pow(2) - y[:, 2:].exp()))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    one = lambda m, x: {'y': m(x)}

    run_case('linear', nn.Linear(5, 7), {'x': torch.randn(4, 5)}, one)
    run_case('conv2d', nn.Conv2d(3, 4, 5, 2, 2), {'x': torch.randn(2, 3, 9, 9)}, one)
    run_case('conv_transpose2d', nn.ConvTranspose2d(4, 3, 5, 2, 2, output_padding=1), {'x': torch.randn(2, 4, 4, 4)}, one)
    run_case('conv1d', nn.Conv1d(3, 4, 3, stride=2, padding=2, dilation=2), {'x': torch.randn(2, 3, 11)}, one)
    run_case('batchnorm1d_train', nn.BatchNorm1d(6), {'x': torch.randn(5, 6) * 2 + 1}, one)
    run_case('batchnorm1d_train_3d', nn.BatchNorm1d(3), {'x': torch.randn(4, 3, 5)}, one)
    run_case('batchnorm2d_train', nn.BatchNorm2d(3), {'x': torch.randn(4, 3, 3, 3) * 3 - 1}, one)
    bn = nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(3) + 0.5)
        bn.bias.copy_(torch.randn(3))
        bn.running_mean.copy_(torch.randn(3))
        bn.running_var.copy_(torch.rand(3) + 0.5)
    bn.eval()
    run_case('batchnorm2d_eval', bn, {'x': torch.randn(2, 3, 4, 4)}, one)

    def lstm_fwd(m, x):
        y, (h, c) = m(x)
        return {'y': y, 'h': h, 'c': c}
    run_case('lstm', nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True), {'x': torch.randn(3, 6, 5)}, lstm_fwd)
    run_case('lstm_1layer', nn.LSTM(3, 5, num_layers=1, batch_first=True), {'x': torch.randn(2, 4, 3)}, lstm_fwd)
    run_case('temporal_block', TemporalBlock(4, 4, 1), {'x': torch.randn(2, 4, 7)}, one)
    run_case('temporal_block_d2', TemporalBlock(3, 3, 2), {'x': torch.randn(2, 3, 9)}, one)

    net = composite()
    x, target = torch.randn(4, 2, 8, 8), torch.randn(4, 4)
    target01 = torch.rand(4, 4)
    run_case('composite', net, {'x': x, 'target': target, 'target01': target01},
             lambda m, x, target, target01: {'loss': composite_loss(m, x, target, target01).reshape(1)})

    # 10 training steps: Adam with weight decay, StepLR, clipping to norm 1.
    net = composite()
    out = {'state.' + k: v for k, v in state(net).items()}
    out.update({'input.x': x, 'input.target': target, 'input.target01': target01})
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.999), eps=1e-8, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    losses, norms = [], []
    for _ in range(10):
        opt.zero_grad()
        loss = composite_loss(net, x, target, target01)
        loss.backward()
        norms.append(float(nn.utils.clip_grad_norm_(net.parameters(), 1.0)))
        opt.step()
        sched.step()
        losses.append(float(loss))
    out['losses'] = np.array(losses, dtype=np.float32)
    out['norms'] = np.array(norms, dtype=np.float32)
    out.update({'final.' + k: v for k, v in state(net).items()})
    write_safetensors(os.path.join(OUT, 'adam.safetensors'), out)


if __name__ == '__main__':
    main()
