"""Multi-level AdaIN (Huang & Belongie 2017) on an offline encoder: EfficientNet-Lite0 up to block4.

At each level l of block4 (40 ch, 1/8), block2 (24 ch, 1/4) and block0 (16 ch, 1/2):

    t_l = alpha * AdaIN(f_l(content), style mean/std at l) + (1 - alpha) * f_l(content)

and the decoder goes up from t_block4, concatenating t_block2 at 1/4 and t_block0 at 1/2 (skip connections,
so fine detail survives), to RGB at full resolution. The encoder is frozen; only the decoder is trained
(content loss on the output's features vs t at every level, mean/std style loss at stem, block0, block2,
block4, an L1 reconstruction term so alpha=0 gives back the photo, and a small total-variation term that
cuts high-frequency noise).

The exported ONNX has inputs `input` [1,3,H,W] 0..1 (H,W multiples of 8), `style_stats` [1,160], `alpha` [1],
and outputs `output` [1,3,H,W] and `stats` [1,160] = the input's own feature stats: run it once on the style
picture (alpha=0) to get its stats, then every frame with those stats. Stats layout, level by level deep to
shallow, means then stds: block4 mean 40, std 40 | block2 mean 24, std 24 | block0 mean 16, std 16. The first
80 are the old single-level (block4) layout.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UserError
from ..imageio import atomic_write_bytes
from ..zoo.card import save_card
from .data import default_sources, load_content
from .loop import (Budget, CsvLog, command_line, cosine_lr, load_checkpoint, optimise, prepare_workdir,
                   running_average, save_checkpoint, seed_all, set_lr)

ARCH = "adain-efficientnet-lite0-multilevel"
LEVELS = (("block4", 40), ("block2", 24), ("block0", 16))  # deep -> shallow: 1/8, 1/4, 1/2
STATS = 2 * sum(c for _, c in LEVELS)  # 160
STYLE_LAYERS = {"stem": 1.0, "block0": 1.0, "block2": 1.0, "block4": 1.0}
CONTENT_LAYERS = {"block4": 1.0, "block2": 0.5, "block0": 0.25}
MULTIPLE = 8


def mean_std(f: torch.Tensor, eps: float = 1e-5):
    m = f.mean(dim=(2, 3))
    s = (f.var(dim=(2, 3), unbiased=False) + eps).sqrt()
    return m, s


def split_stats(stats: torch.Tensor) -> Dict[str, tuple]:
    """[N,160] -> {level: (mean [N,C], std [N,C])} in the layout above."""
    out, i = {}, 0
    for name, c in LEVELS:
        out[name] = (stats[:, i:i + c], stats[:, i + c:i + 2 * c])
        i += 2 * c
    return out


def level_stats(feats: Dict[str, torch.Tensor]) -> torch.Tensor:
    """Encoder features -> their [N,160] stats."""
    return torch.cat([torch.cat(mean_std(feats[name]), dim=1) for name, _ in LEVELS], dim=1)


def adain(f, m, s, sm, ss, alpha):
    """alpha * (ss * (f - m) / s + sm) + (1 - alpha) * f, as one per-channel scale and shift of f."""
    k = ss / s
    a = alpha.reshape(-1, 1)
    scale = a * k + (1 - a)
    shift = a * (sm - m * k)
    return f * scale[..., None, None] + shift[..., None, None]


def _conv(cin, cout):
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3))


class Decoder(nn.Module):
    """t4 (40 @1/8) -> up, cat t2 (24 @1/4) -> up, cat t0 (16 @1/2) -> 12 ch @1/2 -> pixel shuffle -> RGB.

    widths (48, 32, 16): about 3.7 kMAC per output pixel (see macs_per_pixel).
    """

    def __init__(self, widths=(48, 32, 16)):
        super().__init__()
        w4, w2, w0 = widths
        (_, c4), (_, c2), (_, c0) = LEVELS
        self.c4 = _conv(c4, w4)
        self.c2 = _conv(w4 + c2, w2)
        self.c0 = _conv(w2 + c0, w0)
        self.rgb = _conv(w0, 12)  # 3 x (2x2) sub-pixels: full resolution without a full-res conv
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, t4, t2, t0):
        x = F.interpolate(F.relu(self.c4(t4)), scale_factor=2.0, mode="nearest")
        x = F.interpolate(F.relu(self.c2(torch.cat([x, t2], 1))), scale_factor=2.0, mode="nearest")
        x = F.relu(self.c0(torch.cat([x, t0], 1)))
        return torch.sigmoid(self.shuffle(self.rgb(x)))

    def macs_per_pixel(self) -> float:
        """Multiply-adds per output pixel (each conv at 1/8, 1/4, 1/2, 1/2 of the output size)."""
        scale = {"c4": 1 / 64, "c2": 1 / 16, "c0": 1 / 4, "rgb": 1 / 4}
        return sum(scale[k] * getattr(self, k)[1].weight.numel() for k in scale)


class AdaINNet(nn.Module):
    """Encoder + multi-level AdaIN + decoder in one module (the exported graph)."""

    multiple = MULTIPLE

    def __init__(self, encoder=None):
        super().__init__()
        from .features import get_features
        self.encoder = encoder or get_features("efficientnet-lite0", layers=list(STYLE_LAYERS))
        self.decoder = Decoder()

    def encode(self, x) -> Dict[str, torch.Tensor]:
        return self.encoder(x)

    def decode(self, t: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.decoder(*(t[name] for name, _ in LEVELS))

    def forward(self, x, style_stats, alpha):
        f = self.encode(x)
        target = split_stats(style_stats)
        t, own = {}, []
        for name, _ in LEVELS:
            m, s = mean_std(f[name])
            own += [m, s]
            t[name] = adain(f[name], m, s, *target[name], alpha)
        return self.decode(t), torch.cat(own, dim=1)


def export_adain(net: AdaINNet, path: Path) -> dict:
    import io
    import warnings
    import onnxruntime as ort
    net = net.cpu().eval()
    x, st, a = torch.rand(1, 3, 256, 256), torch.rand(1, STATS), torch.tensor([1.0])
    buf = io.BytesIO()
    dyn = {"input": {2: "height", 3: "width"}, "output": {2: "height", 3: "width"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x, st, a), buf, input_names=["input", "style_stats", "alpha"],
                          output_names=["output", "stats"], dynamic_axes=dyn, opset_version=18, dynamo=False,
                          do_constant_folding=True)
    atomic_write_bytes(path, buf.getvalue())
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for h, w in ((64, 96), (104, 168)):
        x = torch.rand(1, 3, h, w)
        with torch.no_grad():
            ref = net(x, st, torch.tensor([0.7]))[0].numpy()
        got = sess.run(["output"], {"input": x.numpy(), "style_stats": st.numpy(),
                                    "alpha": np.array([0.7], np.float32)})[0]
        worst = max(worst, float(np.abs(ref - got).max()))
    if worst > 1e-3:
        raise UserError(f"exported AdaIN ONNX differs from PyTorch by {worst:.2e}")
    return {"onnx_vs_torch_max_abs": worst}


def _crops(imgs, n, crop, rng):
    import cv2
    out = []
    for _ in range(n):
        img = imgs[rng.integers(len(imgs))]
        h, w = img.shape[:2]
        c = int(rng.uniform(min(crop, h, w), min(h, w) + 1))
        top, left = rng.integers(0, h - c + 1), rng.integers(0, w - c + 1)
        out.append(cv2.resize(np.ascontiguousarray(img[top:top + c, left:left + c]), (crop, crop),
                              interpolation=cv2.INTER_AREA))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels (total variation)."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def adain_losses(net: AdaINNet, c, s, alpha: float = 1.0):
    """(content, style, reconstruction, total variation) losses for content batch c and style batch s."""
    with torch.no_grad():
        fs = net.encoder(s)
        style_ms = {k: mean_std(fs[k]) for k in STYLE_LAYERS}  # AdaIN targets and style-loss references
        fc = net.encode(c)
        a = torch.full((c.shape[0],), alpha)
        t = {name: adain(fc[name], *mean_std(fc[name]), *style_ms[name], a) for name, _ in LEVELS}
    out = net.decode(t)
    fo = net.encoder(out)
    content = sum(w * F.mse_loss(fo[k], t[k]) for k, w in CONTENT_LAYERS.items())
    style = 0.0
    for k, w in STYLE_LAYERS.items():
        mo, so = mean_std(fo[k])
        ms, ss = style_ms[k]
        style = style + w * (F.mse_loss(mo, ms) + F.mse_loss(so, ss))
    recon = F.l1_loss(net.decode(fc), c)
    return content, style, recon, tv_loss(out)


def train_adain(name: str = "adain-lite0", steps: Optional[int] = None, minutes: Optional[float] = None,
                batch: int = 4, crop: int = 192, lr: float = 1e-3, seed: int = 0, workdir: Optional[Path] = None,
                resume: bool = False, out_dir: Optional[Path] = None, threads: Optional[int] = 1,
                style_weight: float = 3.0, recon_weight: float = 100.0, tv_weight: float = 10.0,
                progress: bool = True) -> dict:
    from tqdm import tqdm
    from ..zoo.magenta import MagentaTeacher
    from .arbitrary import HELD_MS26, style_bank
    budget = Budget(steps, minutes)
    if threads:
        torch.set_num_threads(threads)
    seed_all(seed)
    workdir, ckpt = prepare_workdir(workdir, name, resume)
    style_names, style_imgs, _ = style_bank(workdir.parent / "style_cache", MagentaTeacher(threads=threads), seed,
                                            progress)
    contents, content_names = load_content(default_sources())
    net = AdaINNet()
    opt = torch.optim.Adam(net.decoder.parameters(), lr=lr)
    step, elapsed = 0, 0.0
    rng = np.random.default_rng(seed)
    if resume:
        st = load_checkpoint(ckpt)
        if st.get("arch") != ARCH:
            raise UserError(f"{ckpt} is from another AdaIN design ({st.get('arch', 'single-level block4')}); "
                            "start a new run (another -o / --workdir)")
        net.decoder.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, elapsed = st["step"], st["elapsed"]
        rng = np.random.default_rng([seed, step])
    log = CsvLog(workdir / "log.csv", ["step", "elapsed_s", "content", "style", "recon", "tv", "lr"])
    bar = tqdm(desc=f"adain {name}", total=budget.steps or None, initial=step, disable=not progress)
    t0, avg = time.perf_counter() - elapsed, None
    while not budget.done(step, elapsed):
        c = _crops(contents, batch, crop, rng)
        s = _crops(list(style_imgs), batch, crop, rng)
        cur_lr = cosine_lr(lr, budget.frac(step, elapsed))
        set_lr(opt, cur_lr)
        lc, ls, lr_, ltv = adain_losses(net, c, s)
        loss = lc + style_weight * ls + recon_weight * lr_ + tv_weight * ltv
        optimise(opt, loss, step)
        step += 1
        elapsed = time.perf_counter() - t0
        avg = running_average(avg, [float(v.detach()) for v in (lc, ls, lr_, ltv)], 0.95)
        bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(content=f"{avg[0]:.3f}", style=f"{avg[1]:.3f}", recon=f"{avg[2]:.3f}")
            log.write(step=step, elapsed_s=round(elapsed, 1), content=round(avg[0], 5), style=round(avg[1], 5),
                      recon=round(avg[2], 5), tv=round(avg[3], 5), lr=f"{cur_lr:.2e}")
        if step % 200 == 0:
            save_checkpoint(ckpt, model=net.decoder.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed,
                            arch=ARCH)
    bar.close()
    save_checkpoint(ckpt, model=net.decoder.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed,
                    arch=ARCH)
    from ..outputs import model_output
    path = model_output(name, out_dir, force=True)  # a plain name inside out_dir (the CLI refused clashes)
    stats = export_adain(net, path)
    card = {"name": name, "kind": "arbitrary", "method": "adain", "arch": ARCH,
            "description": "multi-level AdaIN: EfficientNet-Lite0 encoder (to block4), mean/std alignment at "
                           "block4, block2, block0, small skip-connection decoder",
            "licence": "Apache-2.0 (EfficientNet-Lite0 weights) + decoder trained here",
            "input": {"name": "input", "layout": "NCHW", "range": "0..1 RGB float32", "multiple": MULTIPLE,
                      "extra": f"style_stats[1,{STATS}], alpha[1]; output `stats` = the input's own stats"},
            "stats": {"size": STATS, "layout": [f"{n} mean {c}, std {c}" for n, c in LEVELS]},
            "decoder_kmac_per_pixel": round(net.decoder.macs_per_pixel() / 1000, 2),
            "style_input": "style_stats", "export": stats, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "params": int(sum(p.numel() for p in net.parameters())),
            "training": {"command": command_line(), "steps": step, "minutes": round(elapsed / 60, 1),
                         "batch": batch, "crop": crop, "lr": lr, "style_weight": style_weight,
                         "recon_weight": recon_weight, "tv_weight": tv_weight, "seed": seed, "styles": len(style_names),
                         "held_out_styles": ["starry_night", "graf1", "graf3"] + [f"ms26-{k}" for k in HELD_MS26],
                         "content_images": len(content_names)}}
    _write_card(path, card)
    card["alpha0_psnr"] = alpha0_psnr(path, threads)
    _write_card(path, card)
    return {"name": name, "path": str(path), "steps": step, "minutes": round(elapsed / 60, 2),
            "alpha0_psnr": card["alpha0_psnr"]}


def _write_card(path: Path, card: dict) -> None:
    save_card(path, card)


def alpha0_psnr(path: Path, threads: Optional[int] = None, size: int = 256) -> float:
    """Mean PSNR of the alpha=0 output vs the photo itself (held-out photos, longer side `size`)."""
    from ..imageio import load_image
    from ..metrics.fidelity import psnr
    from ..runtime.arbitrary import AdainBackend
    from .data import SHARED, held_out_images, resize_long
    be = AdainBackend(str(path), threads, alpha=0.0)
    stats = be.prepare(SHARED / "images" / "starry_night.jpg")
    vals = [psnr(be.transform(x, stats), x) for x in (resize_long(load_image(p), size) for p in held_out_images())]
    return round(float(np.mean(vals)), 2)
