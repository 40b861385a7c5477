#!/usr/bin/python3
"""Golden files for the whole HALO model (package halo), from the PyTorch
re-implementation torch_halo.py.

The PyTorch model is not part of this repository: pass its file with
--torch-halo (it is imported with importlib). Run from the repository root
with Debian's python (torch, numpy):

  /usr/bin/python3 scripts/golden_model.py --torch-halo ../shared/bench/torch_halo.py

For two configurations the script builds torch_halo's HALO, runs one
training-mode loss with fixed reparameterisation noise (HALO.reparam is
replaced by a function that hands out given draws, in the order of the calls
in HALO.loss: z [B, Z], then q [B*T, K*d], then p [B*T, K*d]) and a fixed
start frame, back-propagates, and writes testdata/golden/model/<case>.safetensors:

  weight.<name>     the state dict before the step, with torch_halo's names
                    (tcn.convN.v / .g for the weight-normed convolutions; the
                    buffer J is left out); the conditional case stores only
                    the tensors that differ from balls.safetensors, whose
                    weights it otherwise shares
  input.x           the batch [B, T, C, H, W]
  input.start       the start frame of the rollout (int64)
  input.actions     the action of each sequence (int64; conditional only)
  noise.z, noise.q, noise.p
  term.<name>       the loss terms, float64 copies of PyTorch's float32 values:
                    recon, vrecon, state, kl_z, kl_qp and total (HALO.loss's
                    own value); see below
  grad.<name>       the gradient of the total with respect to every parameter
                    (the conditional case: those of the content LSTM, the
                    position network, the mean and log-variance heads, the
                    TCN, A and the decoder's first layer)
  after.<name>      the BatchNorm buffers after the step (running statistics,
                    num_batches_tracked)
  f32err.<name>     for every grad.* and term.*: PyTorch's own float32 error,
                    max |float32 - float64| over the tensor, from the same
                    step rerun in float64 (a scalar)
  f64max.grad.<name>  max |float64 gradient|: about 1e-13 for the biases
                    that a training-mode BatchNorm follows, whose exact
                    gradient is zero (their float32 values are rounding noise)

torch_halo's HALO.loss returns the total only. The terms are recorded from
that same call by wrapping the functions it calls (torch_halo.kl_normal and
F.mse_loss): the KL calls come in the order z, q, p, the summed squared
errors in the order x against the decoded rollout, rollout against encoded
states, x against the decoded encoded states; each is divided by B as
HALO.loss divides. The script checks that the recorded terms add up to the
total that HALO.loss returns.

Cases:
  balls              torch_halo arch 'balls' with d = 2, normalize_qp True,
                     h 64, z 8, position width 32, K 1, unconditional,
                     lossVrecon (vrecon 1); B 3, T 6, start 2.
  balls_conditional  the same with K = 2 and conditional True; start 3.

Weights: torch_halo's 'orthogonal' init (operator A orthogonal_ with gain
sqrt 2, as initialised), then every BatchNorm's weight, bias and running
statistics set to random values, so that a mix-up of them shows. Then the
bias of each BatchNorm that a ReLU or LeakyReLU follows is moved a little
(move_kinks) so that no input of the activation lies within float32
rounding of zero on this batch, where two float32 implementations may take
different sides of the kink; the script fails if one is still closer than
MIN_MARGIN.

The script prints PyTorch's float32 error against float64 for every term and
gradient; the Go test's tolerances rest on those numbers.
"""

import argparse
import copy
import importlib.util
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join('testdata', 'golden', 'model')
B, T = 3, 6
# Every (leaky) ReLU input must be at least this far from zero, relative to
# the largest input of its layer: over three times the largest float32 error
# of a batch-norm output against float64 in these cases (3e-6 of the
# largest), so that no float32 implementation takes the other side of a kink.
MIN_MARGIN = 1e-5


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
        elif a.dtype == np.float64:
            a = a.astype('<f8')
            dt = 'F64'
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


def load_torch_halo(path):
    spec = importlib.util.spec_from_file_location('torch_halo', path)
    if spec is None:
        sys.exit(f'cannot import {path}')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Recorder:
    """Hands out the reparameterisation noise and records the KL and squared
    error terms of one HALO.loss call."""

    def __init__(self, th):
        self.th = th
        self.eps, self.kl, self.sse = [], [], []
        self.kinks = None  # a list while kink_margins records the activations' inputs
        self.orig_kl = th.kl_normal
        self.orig_F = th.F
        rec = self

        class FProxy:
            def __getattr__(self, name):
                return getattr(F, name)

            @staticmethod
            def leaky_relu(a, slope=0.01):
                if rec.kinks is not None:
                    rec.kinks.append(('tcn leaky_relu', a.detach()))
                return F.leaky_relu(a, slope)

            @staticmethod
            def mse_loss(a, b, reduction='mean'):
                v = F.mse_loss(a, b, reduction=reduction)
                rec.sse.append(v)
                return v

        def kl(mu, logsig):
            v = rec.orig_kl(mu, logsig)
            rec.kl.append(v)
            return v

        def reparam(mu, logsig):
            e = rec.eps.pop(0)
            if tuple(e.shape) != tuple(mu.shape):
                raise RuntimeError(f'noise {tuple(e.shape)} for a mean {tuple(mu.shape)}')
            return mu + e.to(mu.dtype) * torch.exp(0.5 * logsig)

        th.kl_normal = kl
        th.F = FProxy()
        th.HALO.reparam = staticmethod(reparam)

    def run(self, model, x, u, start, noise):
        self.eps = list(noise)
        self.kl, self.sse = [], []
        total = model.loss(x, u, start)
        if self.eps:
            raise RuntimeError(f'{len(self.eps)} noise arrays unused')
        b = x.shape[0]
        kls = list(self.kl)
        terms = {}
        if model.zdim > 0:
            terms['kl_z'] = kls.pop(0) / b
        terms['kl_qp'] = (kls[0] + kls[1]) / b
        terms['recon'] = self.sse[0] / b
        if model.vrecon:
            terms['state'] = self.sse[1] / b
            terms['vrecon'] = self.sse[2] / b
        return total, terms


def build(th, K, conditional, seed):
    ns = argparse.Namespace(arch='balls', dims='repo', d=2, h_dim=64, z_dim=8,
                            conditional='1' if conditional else '0', T=T)
    cfg = th.make_cfg(ns)
    cfg.update(K=K, normalize_qp=True, pos_hidden=32)
    torch.manual_seed(seed)
    model = th.HALO(cfg, vrecon=True)
    model.init_weights('orthogonal')
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(5)
    model.train()
    return model


def go_name(k):
    """torch_halo's names are the Go model's except the weight-normed convs."""
    for a, b in (('.v', '.weight_v'), ('.g', '.weight_g')):
        if k.startswith('tcn.') and k.endswith(a):
            return k[:-len(a)] + b
    return k


def kinked(model):
    """(name, BatchNorm, activation) for every BatchNorm that a ReLU or
    LeakyReLU follows, in the order of the forward pass."""
    out = []
    for seq_name in ('encoder', 'posnet', 'decoder'):
        seq = getattr(model, seq_name)
        for i in range(len(seq) - 1):
            if isinstance(seq[i], (nn.BatchNorm1d, nn.BatchNorm2d)) and isinstance(seq[i + 1], (nn.ReLU, nn.LeakyReLU)):
                out.append(('%s.%d' % (seq_name, i), seq[i], seq[i + 1]))
    return out


def forward64(rec, model, x, u, start, noise, hooks):
    """The loss in float64 on a copy of model (its running statistics stay),
    with forward hooks hooks[name] = fn(module, input, output)."""
    twin = copy.deepcopy(model).double()
    mods = dict(twin.named_modules())
    handles = [mods[k].register_forward_hook(f) for k, f in hooks.items()]
    with torch.no_grad():
        rec.run(twin, x.double(), u.double(), start, [n.double() for n in noise])
    for h in handles:
        h.remove()


def move_kinks(rec, model, x, u, start, noise, window=0.5):
    """Moves each BatchNorm bias that a (leaky) ReLU follows by at most
    window x its weight, so that no input of the activation lies near zero.

    At an input within float32 rounding of zero, the derivative of a ReLU is
    1 or 0 depending on how an implementation rounds, and one such element
    changes the gradients upstream by up to 1e-3 of their scale: with about
    two million activations per step, a few lie within 1e-7 of zero for any
    weights. The normalised values x^ of a channel do not depend on its own
    bias beta, so beta can put the kink (x^ = -beta/gamma) in the middle of
    the widest gap between the channel's values near where it was. Layers
    are done in forward order, as each bias changes the layers after it."""
    for name, bn, _ in kinked(model):
        seen = []
        forward64(rec, model, x, u, start, noise, {name: lambda m, i, o: seen.append(o)})
        gamma, beta = bn.weight.detach().double(), bn.bias.detach().double()
        shape = (1, -1) + (1,) * (seen[0].dim() - 2)
        xhat = torch.cat([((o - beta.reshape(shape)) / gamma.reshape(shape)).transpose(0, 1).reshape(len(gamma), -1)
                          for o in seen], dim=1)
        new = beta.clone()
        for c in range(len(gamma)):
            v = torch.sort(xhat[c]).values
            t0 = -beta[c].item() / gamma[c].item()
            mids, gaps = (v[1:] + v[:-1]) / 2, v[1:] - v[:-1]
            near = (mids - t0).abs() <= window
            if not near.any():
                continue
            j = torch.argmax(torch.where(near, gaps, torch.zeros_like(gaps)))
            new[c] = -gamma[c] * mids[j]
        with torch.no_grad():
            bn.bias.copy_(new.float())


def kink_margins(rec, model, x, u, start, noise):
    """Per activation (each call), min |input| / max |input| in float64."""
    rec.kinks = []
    hooks = {}
    for name, _, _ in kinked(model):
        act = name.rsplit('.', 1)[0] + '.%d' % (int(name.rsplit('.', 1)[1]) + 1)
        hooks[act] = lambda m, i, o, act=act: rec.kinks.append((act, i[0]))
    forward64(rec, model, x, u, start, noise, hooks)
    out = [(k, (a.abs().min() / a.abs().max()).item()) for k, a in rec.kinks]
    rec.kinks = None
    return out


def step(rec, model, x, u, start, noise):
    """One loss and backward: terms (with the total), gradients, BN buffers."""
    model.zero_grad(set_to_none=True)
    total, terms = rec.run(model, x, u, start, noise)
    total.backward()
    terms['total'] = total
    s = sum(v for k, v in terms.items() if k != 'total')
    if abs(s.item() - total.item()) > 1e-6 * abs(total.item()):
        sys.exit(f'recorded terms add up to {s.item()}, HALO.loss gives {total.item()}')
    grads = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
    after = {k: v.detach().clone() for k, v in model.state_dict().items()
             if 'running_' in k or 'num_batches_tracked' in k}
    return {k: v.detach() for k, v in terms.items()}, grads, after


def case(th, rec, out_dir, name, K, conditional, seed, start, base=None, grad_filter=None):
    model = build(th, K, conditional, seed)
    g = torch.Generator().manual_seed(seed + 100)
    x = torch.rand((B, T, 3, 32, 32), generator=g) * 2 - 1
    actions = torch.randint(0, K, (B,), generator=g)
    if conditional:
        actions = torch.tensor([1, 0, 1])[:B] % K
    u = F.one_hot(actions, K).float()
    v = K * 2
    noise = [torch.randn((B, 8), generator=g), torch.randn((B * T, v), generator=g),
             torch.randn((B * T, v), generator=g)]
    sd = {k: t.detach().clone() for k, t in model.state_dict().items() if k != 'J'}
    if base is not None:
        # Share the balls case's weights wherever the shapes allow.
        with torch.no_grad():
            for k, t in model.state_dict().items():
                if k in base and base[k].shape == t.shape:
                    t.copy_(base[k])

    move_kinks(rec, model, x, u, start, noise)
    margins = kink_margins(rec, model, x, u, start, noise)
    for k, v in margins:
        print(f'  margin {k:16s} {v:.1e}')
    worst = min(margins, key=lambda m: m[1])
    print(f'{name}: smallest |input| of a (leaky) ReLU: {worst[1]:.1e} of the largest ({worst[0]})')
    if worst[1] < MIN_MARGIN:
        sys.exit(f'{name}: an activation input lies within {worst[1]:.1e} of zero (relative): change the seed')
    sd = {k: t.detach().clone() for k, t in model.state_dict().items() if k != 'J'}

    twin = copy.deepcopy(model).double()
    terms, grads, after = step(rec, model, x, u, start, noise)
    terms64, grads64, _ = step(rec, twin, x.double(), u.double(), start, [n.double() for n in noise])

    out = {}
    for k, t in sd.items():
        if base is None or k not in base or not torch.equal(base[k], t):
            out['weight.' + k] = t
    out['input.x'] = x
    out['input.start'] = np.array(start, dtype=np.int64)
    if conditional:
        out['input.actions'] = actions.to(torch.int64)
    out['noise.z'], out['noise.q'], out['noise.p'] = noise
    print(f'{name}: B {B}, T {T}, K {K}, conditional {conditional}, start {start}')
    for k, t in terms.items():
        out['term.' + k] = np.array(t.item(), dtype=np.float64)
        e = abs(t.double().item() - terms64[k].item())
        out['f32err.term.' + k] = np.array(e, dtype=np.float64)
        print(f'  term {k:8s} {t.item():14.6f}  float32 vs float64 relative {e / abs(terms64[k].item()):.2e}')
    worst = []
    for k, gr in grads.items():
        if grad_filter is not None and not grad_filter(k):
            continue
        gk = go_name(k)
        out['grad.' + gk] = gr
        d = (gr.double() - grads64[k]).abs()
        scale = grads64[k].abs().max().item()
        out['f32err.grad.' + gk] = np.array(d.max().item(), dtype=np.float64)
        out['f64max.grad.' + gk] = np.array(scale, dtype=np.float64)
        big = grads64[k].abs() >= 1e-3 * scale
        rel = (d[big] / grads64[k].abs()[big]).max().item() if scale > 0 else 0.0
        worst.append((k, scale, rel, d.max().item() / scale if scale > 0 else 0.0))
    for k, t in after.items():
        out['after.' + k] = t
    for k, scale, rel, ab in worst:
        print(f'  grad {k:34s} max {scale:.3e}  float32 vs float64: relative {rel:.2e}, |d|/max {ab:.2e}')
    path = os.path.join(out_dir, name + '.safetensors')
    write_safetensors(path, out)
    print(f'  wrote {path}: {os.path.getsize(path)} bytes, {len(out)} tensors')
    return sd


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--torch-halo', required=True, help='path of torch_halo.py')
    ap.add_argument('--out', default=OUT, help='output folder (default %(default)s)')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    th = load_torch_halo(args.torch_halo)
    rec = Recorder(th)
    base = case(th, rec, args.out, 'balls', K=1, conditional=False, seed=11, start=2)
    heads = ('content.', 'posnet.', 'mu_', 'ls_', 'tcn.', 'A', 'decoder.0.')
    case(th, rec, args.out, 'balls_conditional', K=2, conditional=True, seed=12, start=3, base=base,
         grad_filter=lambda k: k.startswith(heads))


if __name__ == '__main__':
    main()
