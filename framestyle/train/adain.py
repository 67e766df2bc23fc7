"""AdaIN (Huang & Belongie 2017) on an offline encoder: EfficientNet-Lite0 up to block4 (40 ch, 1/8).

    t = alpha * AdaIN(f(content), style_stats) + (1 - alpha) * f(content);  out = decoder(t)

The encoder is frozen; only the small decoder is trained (content loss on f(out) vs t, mean/std style loss
at stem, block0, block2, block4, plus a reconstruction term so alpha=0 gives back the photo). The exported
ONNX has inputs `input` [1,3,H,W] 0..1 (H,W multiples of 8), `style_stats` [1,80] (mean 40 + std 40),
`alpha` [1], and outputs `output` [1,3,H,W] and `stats` [1,80] = the input's own feature stats: run it once
on the style picture to get its stats (alpha=0), then every frame with those stats.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UserError
from ..imageio import atomic_write_bytes, atomic_write_json
from .data import default_sources, load_content
from .loop import (Budget, CsvLog, command_line, cosine_lr, load_checkpoint, prepare_workdir, save_checkpoint,
                   seed_all)

TAP = "block4"
CH = 40
STYLE_LAYERS = {"stem": 1.0, "block0": 1.0, "block2": 1.0, "block4": 1.0}
MULTIPLE = 8


def mean_std(f: torch.Tensor, eps: float = 1e-5):
    m = f.mean(dim=(2, 3))
    s = (f.var(dim=(2, 3), unbiased=False) + eps).sqrt()
    return m, s


class Decoder(nn.Module):
    """40 ch @1/8 -> RGB: three (nearest x2 + reflect 3x3 conv) stages, ~3 kMAC per output pixel."""

    def __init__(self, widths=(64, 32, 16)):
        super().__init__()
        layers, cin = [], CH
        for w in widths:
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, w, 3), nn.ReLU(inplace=True),
                       nn.Upsample(scale_factor=2, mode="nearest")]
            cin = w
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, 3, 3)]
        self.net = nn.Sequential(*layers)

    def forward(self, t):
        return torch.sigmoid(self.net(t))


class AdaINNet(nn.Module):
    """Encoder + AdaIN + decoder in one module (the exported graph)."""

    multiple = MULTIPLE

    def __init__(self, encoder=None):
        super().__init__()
        from .features import get_features
        self.encoder = encoder or get_features("efficientnet-lite0", layers=list(STYLE_LAYERS))
        self.decoder = Decoder()

    def encode(self, x):
        return self.encoder(x)[TAP]

    def forward(self, x, style_stats, alpha):
        f = self.encode(x)
        m, s = mean_std(f)
        sm, ss = style_stats[:, :CH], style_stats[:, CH:]
        t = (f - m[..., None, None]) / s[..., None, None] * ss[..., None, None] + sm[..., None, None]
        a = alpha.reshape(-1, 1, 1, 1)
        t = a * t + (1 - a) * f
        return self.decoder(t), torch.cat([m, s], dim=1)


def export_adain(net: AdaINNet, path: Path) -> dict:
    import io
    import warnings
    import onnxruntime as ort
    net = net.cpu().eval()
    x, st, a = torch.rand(1, 3, 256, 256), torch.rand(1, 2 * CH), torch.tensor([1.0])
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


def adain_losses(net: AdaINNet, c, s, alpha: float = 1.0):
    """(content loss, style loss, reconstruction loss) for content batch c and style batch s."""
    with torch.no_grad():
        fs = net.encoder(s)
        stats = torch.cat(mean_std(fs[TAP]), dim=1)
    out, _ = net(c, stats, torch.full((c.shape[0],), alpha))
    with torch.no_grad():
        fc = net.encode(c)
        m, sd = mean_std(fc)
        t = (fc - m[..., None, None]) / sd[..., None, None] * stats[:, CH:, None, None] + stats[:, :CH, None, None]
    fo = net.encoder(out)
    content = F.mse_loss(fo[TAP], t)
    style = 0.0
    for k, w in STYLE_LAYERS.items():
        mo, so = mean_std(fo[k])
        ms, ss = mean_std(fs[k])
        style = style + w * (F.mse_loss(mo, ms) + F.mse_loss(so, ss))
    recon = F.l1_loss(net.decoder(fc), c)
    return content, style, recon


def train_adain(name: str = "adain-lite0", steps: Optional[int] = None, minutes: Optional[float] = None,
                batch: int = 4, crop: int = 192, lr: float = 1e-3, seed: int = 0, workdir: Optional[Path] = None,
                resume: bool = False, out_dir: Optional[Path] = None, threads: Optional[int] = 1,
                style_weight: float = 3.0, recon_weight: float = 100.0, progress: bool = True) -> dict:
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
        net.decoder.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, elapsed = st["step"], st["elapsed"]
        rng = np.random.default_rng([seed, step])
    log = CsvLog(workdir / "log.csv", ["step", "elapsed_s", "content", "style", "recon", "lr"])
    bar = tqdm(desc=f"adain {name}", total=budget.steps or None, initial=step, disable=not progress)
    t0, avg = time.perf_counter() - elapsed, None
    while not budget.done(step, elapsed):
        c = _crops(contents, batch, crop, rng)
        s = _crops(list(style_imgs), batch, crop, rng)
        cur_lr = cosine_lr(lr, budget.frac(step, elapsed))
        for g in opt.param_groups:
            g["lr"] = cur_lr
        lc, ls, lr_ = adain_losses(net, c, s)
        loss = lc + style_weight * ls + recon_weight * lr_
        if not torch.isfinite(loss):
            raise UserError(f"loss became non-finite at step {step}; lower --lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        elapsed = time.perf_counter() - t0
        vals = np.array([float(lc.detach()), float(ls.detach()), float(lr_.detach())])
        avg = vals if avg is None else 0.95 * avg + 0.05 * vals
        bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(content=f"{avg[0]:.3f}", style=f"{avg[1]:.3f}", recon=f"{avg[2]:.3f}")
            log.write(step=step, elapsed_s=round(elapsed, 1), content=round(avg[0], 5), style=round(avg[1], 5),
                      recon=round(avg[2], 5), lr=f"{cur_lr:.2e}")
        if step % 200 == 0:
            save_checkpoint(ckpt, model=net.decoder.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed)
    bar.close()
    save_checkpoint(ckpt, model=net.decoder.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed)
    from ..paths import user_models_dir
    out = Path(out_dir) if out_dir else user_models_dir()
    path = out / f"{name}.onnx"
    stats = export_adain(net, path)
    card = {"name": name, "kind": "arbitrary", "method": "adain", "arch": "adain-efficientnet-lite0-block4",
            "description": "AdaIN: EfficientNet-Lite0 encoder (to block4), mean/std alignment, small decoder",
            "licence": "Apache-2.0 (EfficientNet-Lite0 weights) + decoder trained here",
            "input": {"name": "input", "layout": "NCHW", "range": "0..1 RGB float32", "multiple": MULTIPLE,
                      "extra": "style_stats[1,80], alpha[1]; output `stats` = the input's own stats"},
            "style_input": "style_stats", "export": stats, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "params": int(sum(p.numel() for p in net.parameters())),
            "training": {"command": command_line(), "steps": step, "minutes": round(elapsed / 60, 1),
                         "batch": batch, "crop": crop, "lr": lr, "style_weight": style_weight,
                         "recon_weight": recon_weight, "seed": seed, "styles": len(style_names),
                         "held_out_styles": ["starry_night", "graf1", "graf3"] + [f"ms26-{k}" for k in HELD_MS26],
                         "content_images": len(content_names)}}
    _write_card(path, card)
    card["alpha0_psnr"] = alpha0_psnr(path, threads)
    _write_card(path, card)
    return {"name": name, "path": str(path), "steps": step, "minutes": round(elapsed / 60, 2),
            "alpha0_psnr": card["alpha0_psnr"]}


def _write_card(path: Path, card: dict) -> None:
    atomic_write_json(path.with_suffix(".json"), card)


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
