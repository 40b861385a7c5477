#!/usr/bin/python3
"""Golden files for package layers, from PyTorch.

For every layer (Linear, Conv2d, ConvTranspose2d and Conv1d, square and
rectangular with strides, paddings and dilations per axis, BatchNorm1d/2d in
training and evaluation and with momentum=None, a two-layer bidirectional
batch-first LSTM, from zero and from given initial states, the
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

The Adam case (all parameters, biases before batch norms included) instead
holds state.*, input.*, losses and norms (one per step) and final.* (the
state dict after 10 steps).

Each case is rerun in float64 and the script prints how far PyTorch's float32
results are from it: the rounding error of float32 itself, which sets the Go
tests' tolerance (layers/golden_test.go).

State-dict interchange, both directions:
  interchange_torch.safetensors     the state dict of a composite module
                                    (class Interchange) as torch names and
                                    types it, read by layers.LoadState;
  interchange_torch_io.safetensors  an input and PyTorch's outputs on it;
  interchange_go*.safetensors       the same written by Go (layers test
                                    TestInterchangeGoFixture with
                                    -write-go-fixture); this script loads it
                                    into the PyTorch module (strict) and exits
                                    non-zero unless PyTorch reproduces Go's
                                    outputs.

Everything is float32 on the CPU with fixed seeds; reruns give identical
files. Run from the repository root with Debian's python (python3-torch; the
safetensors package is not needed): /usr/bin/python3 scripts/golden_layers.py
"""

import copy
import json
import os
import struct
import sys

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


def float32_error(name, f32, f64):
    """Prints how far PyTorch's float32 results are from the same computation
    in float64: the rounding error float32 itself makes, which the Go tests'
    tolerance must allow. Per tensor: the worst |d|/|exact| over elements not
    below 1e-3 of the tensor's largest value, and the worst |d|/max|exact|."""
    worst_rel, worst_abs = 0.0, 0.0
    for k, a in f32.items():
        if a is None or not torch.is_floating_point(a):
            continue
        b = f64[k].detach().double()
        d = (a.detach().double() - b).abs()
        scale = b.abs().max().item()
        if scale == 0:
            continue
        big = b.abs() >= 1e-3 * scale
        if big.any():
            worst_rel = max(worst_rel, (d[big] / b.abs()[big]).max().item())
        worst_abs = max(worst_abs, d.max().item() / scale)
    print(f'{name:24s} float32 vs float64: worst relative {worst_rel:.2e}, worst |d|/max {worst_abs:.2e}')
    return worst_rel, worst_abs


def float64_twin(module):
    """A float64 copy of module. Weight-normed convolutions hold their
    computed weight as a non-leaf tensor, which deepcopy refuses: it is
    dropped first (the forward pre-hook recomputes it)."""
    for m in module.modules():
        if hasattr(m, 'weight_g') and 'weight' in m.__dict__:
            del m.weight
    return copy.deepcopy(module).double()


def run_case(name, module, inputs, forward):
    """inputs: dict name -> tensor; forward(module, **inputs) -> dict of outputs."""
    twin = float64_twin(module)
    out = {}
    for k, v in state(module).items():
        out['state.' + k] = v
    results, projs = {}, {}
    for dtype, m in ((torch.float32, module), (torch.float64, twin)):
        ins = {k: v.clone().to(dtype).requires_grad_(True) for k, v in inputs.items()}
        outputs = forward(m, **ins)
        loss = 0
        res = {}
        for k, y in outputs.items():
            if k not in projs:
                projs[k] = torch.randn(y.shape)
            res['output.' + k] = y
            loss = loss + (projs[k].to(dtype) * y).sum()
        loss.backward()
        for k, v in ins.items():
            res['grad.input.' + k] = v.grad
        for k, p in m.named_parameters():
            res['grad.param.' + k] = p.grad
        for k, v in state(m).items():
            res['after.' + k] = v
        results[dtype] = res
    float32_error(name, results[torch.float32], results[torch.float64])
    for k, v in inputs.items():
        out['input.' + k] = v
    for k, r in projs.items():
        out['proj.' + k] = r
    out.update(results[torch.float32])
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


def adam_steps(net, x, target, target01):
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
    return losses, norms


def new_cases():
    """Rectangular kernels, strides and dilations; BatchNorm with
    momentum=None over several batches; an LSTM from given initial states."""
    torch.manual_seed(2)
    one = lambda m, x: {'y': m(x)}
    run_case('conv2d_rect', nn.Conv2d(3, 4, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
             {'x': torch.randn(2, 3, 9, 10)}, one)
    run_case('conv_transpose2d_rect',
             nn.ConvTranspose2d(4, 3, (3, 4), stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(2, 1)),
             {'x': torch.randn(2, 4, 3, 4)}, one)

    def batches(m, x):
        # x holds one batch per index of its first axis, run in turn.
        return {'y': torch.stack([m(b) for b in x])}
    run_case('batchnorm2d_cumulative', nn.BatchNorm2d(3, momentum=None), {'x': torch.randn(3, 4, 3, 2, 2) * 2 + 1}, batches)
    run_case('batchnorm1d_cumulative', nn.BatchNorm1d(5, momentum=None), {'x': torch.randn(4, 6, 5) - 1}, batches)

    def lstm_state(m, x, h0, c0):
        y, (h, c) = m(x, (h0, c0))
        return {'y': y, 'h': h, 'c': c}
    run_case('lstm_state', nn.LSTM(4, 3, num_layers=2, bidirectional=True, batch_first=True),
             {'x': torch.randn(2, 5, 4), 'h0': torch.randn(4, 2, 3), 'c0': torch.randn(4, 2, 3)}, lstm_state)


class Interchange(nn.Module):
    """The state-dict interchange module: an encoder-like Sequential (Conv2d,
    BatchNorm2d, a rectangular Conv2d, Linear, BatchNorm1d), a two-layer
    bidirectional LSTM over its per-frame features and a temporal block of
    weight-normed Conv1d over the LSTM's outputs. layers/interchange_test.go
    builds the same module."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, 4, 3, 2, 1), nn.BatchNorm2d(4), nn.LeakyReLU(0.2),
            nn.Conv2d(4, 6, (3, 5), (2, 1), (1, 2)), nn.BatchNorm2d(6), nn.ReLU(),
            nn.Flatten(), nn.Linear(6 * 2 * 4, 8), nn.BatchNorm1d(8), nn.Tanh())
        self.lstm = nn.LSTM(8, 5, num_layers=2, bidirectional=True, batch_first=True)
        self.tcn = TemporalBlock(10, 3, 1)

    def forward(self, x):
        b, t = x.shape[:2]
        h = self.enc(x.reshape(b * t, *x.shape[2:])).reshape(b, t, -1)
        y, (hn, cn) = self.lstm(h)
        m = self.tcn(y.transpose(1, 2))
        return {'h': h, 'y': y, 'hn': hn, 'cn': cn, 'm': m}


def interchange_outputs(net, x):
    """Outputs in evaluation mode, then in training mode (batch statistics),
    and the state dict after that training pass."""
    io = {}
    with torch.no_grad():
        net.eval()
        io.update({'eval.' + k: v for k, v in net(x).items()})
        net.train()
        io.update({'train.' + k: v for k, v in net(x).items()})
    io.update({'after.' + k: v for k, v in state(net).items()})
    return io


def interchange():
    """PyTorch to Go: interchange_torch.safetensors is the module's state
    dict exactly as torch names and types it (num_batches_tracked int64),
    after three training batches; interchange_torch_io.safetensors holds an
    input and PyTorch's outputs, which layers.LoadState must reproduce."""
    torch.manual_seed(3)
    net = Interchange()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()
        for _ in range(3):
            net(torch.randn(3, 4, 1, 8, 8) * 2 + 0.5)
    write_safetensors(os.path.join(OUT, 'interchange_torch.safetensors'), dict(net.state_dict()))
    x = torch.randn(2, 4, 1, 8, 8)
    io = {'input.x': x}
    io.update(interchange_outputs(net, x))
    write_safetensors(os.path.join(OUT, 'interchange_torch_io.safetensors'), io)


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        dt = {'F32': '<f4', 'F64': '<f8', 'I64': '<i8'}[v['dtype']]
        a, b = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype=dt).reshape(v['shape']).copy())
    return out


def check_go_fixture():
    """Go to PyTorch: loads the state dict that layers wrote
    (interchange_go.safetensors, from layers/interchange_test.go with
    -write-go-fixture) into the PyTorch module with strict=True and checks
    its outputs against Go's at the Go tests' tolerance. Exits non-zero on a
    mismatch."""
    path = os.path.join(OUT, 'interchange_go.safetensors')
    io = read_safetensors(os.path.join(OUT, 'interchange_go_io.safetensors'))
    net = Interchange()
    net.load_state_dict(read_safetensors(path), strict=True)
    got = interchange_outputs(net, io['input.x'])
    worst, groups = 0.0, {}
    for k, want in sorted(io.items()):
        if k == 'input.x':
            continue
        g, w = got[k].double(), want.double()
        tol = 1e-4 * w.abs() + 1e-6 * w.abs().max()
        e = ((g - w).abs() / tol.clamp(min=1e-30)).max().item()
        rel = ((g - w).abs() / w.abs().clamp(min=1e-30))[w.abs() >= 1e-3 * w.abs().max()].max().item()
        group = k if not k.startswith('after.') else 'after.* (state dict)'
        r0, e0 = groups.get(group, (0.0, 0.0))
        groups[group] = (max(r0, rel), max(e0, e))
        worst = max(worst, e)
    for k, (rel, e) in groups.items():
        print(f'go fixture {k:24s} worst relative {rel:.2e}, {e:.3f} x tolerance')
    if worst > 1:
        sys.exit(f'{path}: PyTorch does not reproduce Go\'s outputs ({worst:.3g} x tolerance)')
    print(f'{path}: PyTorch loads it (strict) and reproduces Go\'s outputs: worst {worst:.3f} x tolerance')


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

    # 10 training steps of the composite network with all its parameters,
    # the biases before batch norms included: Adam with weight decay, StepLR,
    # clipping to norm 1. Those biases do not change the loss (the batch
    # norm removes them), so their loss gradient is rounding noise (about
    # 1e-8) and their steps are decided by the weight decay, 1e-3*p. A bias
    # near zero would have a step decided by the noise, so they start at
    # 0.5 to 1 in magnitude, out of reach of ten steps; the float64 rerun
    # below shows the float32 result is then determined to the Go test's
    # tolerance.
    torch.manual_seed(1)
    net = composite(bias=True)
    with torch.no_grad():
        for i in (0, 3, 7):
            b = net[i].bias
            b.uniform_(0.5, 1.0)
            b.mul_(torch.randint(0, 2, b.shape) * 2 - 1)
    out = {'state.' + k: v for k, v in state(net).items()}
    out.update({'input.x': x, 'input.target': target, 'input.target01': target01})
    finals = {}
    for dtype in (torch.float32, torch.float64):
        m = copy.deepcopy(net).to(dtype)
        losses, norms = adam_steps(m, x.to(dtype), target.to(dtype), target01.to(dtype))
        finals[dtype] = {'losses': torch.tensor(losses), 'norms': torch.tensor(norms)}
        finals[dtype].update({'final.' + k: v for k, v in state(m).items()})
    float32_error('adam', finals[torch.float32], finals[torch.float64])
    out.update(finals[torch.float32])
    write_safetensors(os.path.join(OUT, 'adam.safetensors'), out)

    new_cases()
    interchange()
    check_go_fixture()


if __name__ == '__main__':
    main()
