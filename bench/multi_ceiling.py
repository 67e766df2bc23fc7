"""How close a real-time student of multistyle26 can get, and what the teacher's own net costs once rewritten:
per style, PSNR vs multistyle26 on the held-out photos at 512 px, one change to the teacher at a time.

    python bench/multi_ceiling.py [--styles 0,3,7,12,14,19] [--runs 10] [--out docs/multi_ceiling.json]

Rows (PyTorch, float):
- `teacher stem, zero-padded body`: the teacher's weights and every norm live, the up-path in phase form (exact
  but for its padding), the residual body's convs zero-padded (as `multi26` until body=live pad=reflect);
- `teacher stem, reflect body`: the same with the body padded by reflection, as the teacher;
- `reflect body, up-path norms folded`: the real-time students' up-path (norms at each style's average statistics);
- `reflect body, up-path + blocks' second norms folded`: the norms the first multi26 folded (`body=fold`);
- `reflect body, up-path + stem's first norm folded`: the cheapest exact shape for its full-resolution first layer.
Rows (int8, ONNX Runtime, as the runtime runs a fixed graph): the exact phase form (the 9x9 stem conv on 2x2
phases, 12 -> 128 channels at 1/2 resolution) with its first norm live (a group norm) or folded, its PSNR and
its time at 1280x720 beside the peer's raw multistyle26 in the same run (2 threads, interleaved medians).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from framestyle.metrics.fidelity import psnr  # noqa: E402
from framestyle.nets.ms26 import teacher_weights  # noqa: E402
from framestyle.nets.multi import S, MultiRT  # noqa: E402
from framestyle.nets.teacher_shaped import fold_affine, norm_stats, phase_stem  # noqa: E402
from framestyle.train.multi import HeldOut  # noqa: E402


class Teacher(torch.nn.Module):
    """multistyle26 at one style: its stem (reflect padding, live norms; `fold0`: the first norm at fixed
    statistics), then a MultiRT body and phase-form head loaded with the teacher's weights."""

    def __init__(self, s: int, reflect: bool):
        super().__init__()
        self.tw, self.sw, self.fold0 = teacher_weights(), torch.eye(S)[s], None
        self.net = MultiRT(body="live", pad="reflect" if reflect else "zero").load_teacher()

    def stem(self, x):
        y = x
        for i, (k, st) in enumerate(((9, 1), (3, 2), (3, 2))):
            y = F.conv2d(F.pad(y, [k // 2] * 4, mode="reflect"), self.tw[f"contract.{i}.w"], stride=st)
            g, b = self.sw @ self.tw[f"contract.{i}.norm.gamma"], self.sw @ self.tw[f"contract.{i}.norm.beta"]
            if i == 0:
                self.stats = (y.mean((2, 3)), y.var((2, 3), unbiased=False))
                if self.fold0 is not None:
                    a, c = self.fold0
                    y = torch.relu(y * a[:, None, None] + c[:, None, None])
                    continue
            y = torch.relu(F.instance_norm(y, weight=g, bias=b))
        return y

    def forward(self, x, sw=None):
        n, sw = self.net, self.sw
        y = self.stem(x)
        for c1, n1, c2, n2 in n.res:
            y = y + n2(c2(torch.relu(n1(c1(y), sw))), sw)
        for i, (conv, norm) in enumerate(zip(n.head, n.head_norm)):
            y = norm(conv(y), sw)
            y = torch.relu(y) if i < 2 else torch.sigmoid(y)
        return F.pixel_shuffle(y, 4)

    @torch.no_grad()
    def fold_head(self, s, photos, blocks: bool = False):
        """Fold the up-path's norms (and with `blocks` each residual block's second norm, as the first multi26)
        at this style's average statistics."""
        folds = list(self.net.head_norm) + ([b[3] for b in self.net.res] if blocks else [])
        stats = norm_stats(self.net, folds, photos, n=6, size=256, run=lambda x: self(x))
        for f in folds:
            f.gamma[s], f.beta[s] = fold_affine(stats[id(f)], f.eps, f.gamma[s], f.beta[s])
            f.normalize = False

    @torch.no_grad()
    def fold_first(self, photos):
        mus, vs = [], []
        for img in photos[:12]:
            self(torch.from_numpy(np.ascontiguousarray(img[:256, :256])).permute(2, 0, 1)[None].float() / 255)
            mus.append(self.stats[0][0])
            vs.append(self.stats[1][0])
        mu, var = torch.stack(mus).mean(0), torch.stack(vs).mean(0)
        g, b = self.sw @ self.tw["contract.0.norm.gamma"], self.sw @ self.tw["contract.0.norm.beta"]
        a = g / torch.sqrt(var + 1e-5)
        self.fold0 = (a, b - a * mu)


def phase_layers(m: Teacher) -> list:
    """`m` (head folded) as `runtime.specialise.graph_of` layers: reflect-pad by 4 and the one-hot 2x2
    space-to-depth, the 9x9 conv's four phases as a 5x5 conv (12 -> 128), the stride-2 conv as a 2x2 conv
    reading them, then the teacher's third stem conv, body and the phase-form head."""
    tw, sw = {k: v.numpy() for k, v in m.tw.items()}, m.sw.numpy()
    nt = lambda name: (sw @ tw[name + ".norm.gamma"], sw @ tw[name + ".norm.beta"])  # noqa: E731
    (a, _), (b, _) = phase_stem(m.tw["contract.0.w"], torch.zeros(32), m.tw["contract.1.w"], torch.zeros(32))
    a, b = a.numpy(), b.numpy()[:, :, :2, :2].copy()  # its third tap row/column is zero: a 2x2 conv, pads [1, 1, 0, 0]
    s2d = np.zeros((12, 3, 2, 2), np.float32)
    for c in range(3):
        for py in range(2):
            for px in range(2):
                s2d[c * 4 + py * 2 + px, c, py, px] = 1
    out = [dict(w=s2d, b=None, stride=2, pad=4, reflect=True)]
    g0, b0 = nt("contract.0")
    if m.fold0 is None:
        out.append(dict(w=a, b=None, stride=1, pad=0, act="relu", tap="first",
                        group=(32, np.repeat(g0, 4), np.repeat(b0, 4))))
    else:
        sc, sh = (t.numpy() for t in m.fold0)
        out.append(dict(w=a * np.repeat(sc, 4)[:, None, None, None], b=np.repeat(sh, 4), stride=1, pad=0,
                        act="relu"))
    out.append(dict(w=b, b=None, stride=1, pad=0, pads=[1, 1, 0, 0], norm=nt("contract.1"), act="relu"))
    out.append(dict(w=tw["contract.2.w"], b=None, stride=2, pad=1, reflect=True, norm=nt("contract.2"),
                    act="relu"))
    for i in range(6):
        for j in range(2):
            name = f"res.{i}.{j}"
            out.append(dict(w=tw[name + ".w"], b=None, stride=1, pad=1, reflect=True, norm=nt(name),
                            act="relu" if j == 0 else None, res="in" if j == 0 else "add"))
    for i, (conv, norm) in enumerate(zip(m.net.head, m.net.head_norm)):
        g, c = (m.sw @ norm.gamma).detach().numpy(), (m.sw @ norm.beta).detach().numpy()
        w = conv.weight.detach().numpy()
        out.append(dict(w=w * g[:, None, None, None], b=c, stride=1, pad=w.shape[-1] // 2,
                        act="relu" if i < 2 else "sigmoid"))
    return out


def torch_psnr(m, held: HeldOut, s: int) -> float:
    vals = []
    with torch.no_grad():
        for j, x in enumerate(held.imgs):
            h, w = x.shape[:2]
            t = F.pad(torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255, (0, (-w) % 4, 0, (-h) % 4),
                      mode="reflect")
            o = m(t)[0, :, :h, :w].permute(1, 2, 0).numpy()
            vals.append(psnr((np.clip(o, 0, 1) * 255 + 0.5).astype(np.uint8), held.label(j, s)))
    return float(np.mean(vals))


def int8_row(m: Teacher, held: HeldOut, s: int, peer, runs: int, td: Path) -> tuple:
    """(PSNR, ms, peer ms) of the int8 phase-form graph of `m`."""
    from framestyle.runtime.session import open_frames_session
    from framestyle.runtime.specialise import _calibration, graph_of
    from framestyle.shrink.quantize import quantize_file
    f, q = td / f"t{s}.onnx", td / f"t{s}-int8.onnx"
    f.write_bytes(graph_of(phase_layers(m)).SerializeToString())
    with contextlib.redirect_stderr(io.StringIO()):
        quantize_file(f, q, "int8", calib=_calibration(), multiple=4)
    sess, _, i, o = open_frames_session(q, 2)
    vals = []
    for j, x in enumerate(held.imgs):
        h, w = x.shape[:2]
        xp = np.pad(x, ((0, (-h) % 4), (0, (-w) % 4), (0, 0)), mode="reflect")
        vals.append(psnr(sess.run([o], {i: xp})[0][:h, :w], held.label(j, s)))
    import cv2
    frame = cv2.resize(held.imgs[0], (1280, 720), interpolation=cv2.INTER_AREA)
    xf = frame.astype(np.float32).transpose(2, 0, 1)[None] / 255
    sw = np.eye(S, dtype=np.float32)[s]
    mine, theirs = [], []
    for r in range(runs + 1):
        t0 = time.perf_counter()
        sess.run([o], {i: frame})
        t1 = time.perf_counter()
        peer.run(None, {"image": xf, "style_weights": sw})
        if r:
            mine.append(t1 - t0)
            theirs.append(time.perf_counter() - t1)
    return float(np.mean(vals)), 1000 * float(np.median(mine)), 1000 * float(np.median(theirs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--styles", default="0,3,7,12,14,19")
    ap.add_argument("--runs", type=int, default=10, help="timed frames per model at 1280x720")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "multi_ceiling.json",
                    help="the JSON docs/multi.md shows (scripts/gen_docs.py)")
    a = ap.parse_args()
    from framestyle.runtime.session import make_session
    from framestyle.train.data import default_sources, load_content
    from framestyle.zoo.teachers import peer_model_path
    torch.set_num_threads(2)
    load0 = os.getloadavg()[0]
    styles = [int(v) for v in a.styles.split(",")]
    photos, _ = load_content(default_sources())
    held, peer = HeldOut(512), make_session(peer_model_path("multistyle26.onnx"), 2)
    names = ["teacher stem, zero-padded body", "teacher stem, reflect body", "reflect body, up-path norms folded",
             "reflect body, up-path + stem's first norm folded", "int8 phase form, first norm live",
             "int8 phase form, first norm folded", "reflect body, up-path + blocks' second norms folded"]
    rows = {n: [] for n in names}
    speed = {n: [] for n in names[4:6]}
    with tempfile.TemporaryDirectory() as td:
        for s in styles:
            rows[names[0]].append(torch_psnr(Teacher(s, False).eval(), held, s))
            m = Teacher(s, True).eval()
            rows[names[1]].append(torch_psnr(m, held, s))
            m.fold_head(s, photos)
            rows[names[2]].append(torch_psnr(m, held, s))
            old = Teacher(s, True).eval()
            old.fold_head(s, photos, blocks=True)
            rows[names[6]].append(torch_psnr(old, held, s))
            p, ms, pm = int8_row(m, held, s, peer, a.runs, Path(td))
            rows[names[4]].append(p)
            speed[names[4]].append((ms, pm))
            m.fold_first(photos)
            rows[names[3]].append(torch_psnr(m, held, s))
            p, ms, pm = int8_row(m, held, s, peer, a.runs, Path(td))
            rows[names[5]].append(p)
            speed[names[5]].append((ms, pm))
            print(f"style {s}: " + ", ".join(f"{n}: {rows[n][-1]:.2f}" for n in names), flush=True)
    out = []
    for n in (names[i] for i in (0, 1, 2, 6, 3, 4, 5)):
        row = {"variant": n, **{f"style {s}": round(v, 2) for s, v in zip(styles, rows[n])},
               "median": round(float(np.median(rows[n])), 2)}
        if n in speed:
            ms, pm = (float(np.median([v[k] for v in speed[n]])) for k in (0, 1))
            row.update({"ms 1280x720": round(ms, 1), "peer ms": round(pm, 1), "x peer": round(pm / ms, 2)})
        out.append(row)
    data = {"command": "python bench/multi_ceiling.py " + " ".join(sys.argv[1:]),
            "when": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "load": [load0, os.getloadavg()[0]],
            "rows": out}
    a.out.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
