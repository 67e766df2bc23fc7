"""Distillation on tiny real data: the loss falls, resume reproduces, the export matches PyTorch."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import IMAGES, run_cli

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def content(tmp_path_factory):
    d = tmp_path_factory.mktemp("content")
    for n in ("aero1.jpg", "leuvenA.jpg"):
        Image.open(IMAGES / n).resize((160, 120)).save(d / n.replace(".jpg", ".png"))
    return d


def _run(content, tmp, steps, resume=False, name="s"):
    from framestyle.train.distill import distill
    return distill("multistyle26:12", name, arch="fast", arch_kwargs={"alpha": 0.34, "blocks": 2},
                   content=[str(content)], steps=steps, batch=2, crop=64, workdir=tmp / "w", out_dir=tmp / "out",
                   resume=resume, eval_every=10, progress=False, threads=2)


def _weights(tmp):
    return torch.load(tmp / "w" / "checkpoint.pt", weights_only=False)


def test_loss_falls_and_model_registers(tmp_path, content):
    res = _run(content, tmp_path, 40)
    hist = _weights(tmp_path)["history"]
    assert [h[0] for h in hist] == [10, 20, 30, 40]
    assert hist[-1][2] > hist[0][2] + 0.5, hist  # held-out PSNR vs teacher improves
    rows = [line.split(",") for line in (tmp_path / "w" / "log.csv").read_text().splitlines()[1:]]
    assert float(rows[-1][2]) < float(rows[0][2])  # running loss falls
    card = json.loads((tmp_path / "out" / "s.json").read_text())
    assert card["teacher"] == "multistyle26:12" and card["training"]["steps"] == 40
    assert card["fidelity"]["psnr"] > 0 and card["export"]["onnx_vs_torch_max_abs"] < 1e-4
    assert res["fidelity"]["psnr"] == card["fidelity"]["psnr"]


def test_resume_reproduces_uninterrupted_run(tmp_path, content, monkeypatch):
    import framestyle.train.distill as D
    a, b = tmp_path / "a", tmp_path / "b"
    _run(content, a, 20)
    orig, calls = D.sample_batch, {"n": 0}

    def interrupted(*args, **kw):  # the run dies after its step-10 checkpoint
        calls["n"] += 1
        if calls["n"] > 10:
            raise KeyboardInterrupt
        return orig(*args, **kw)

    monkeypatch.setattr(D, "sample_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(content, b, 20)
    monkeypatch.setattr(D, "sample_batch", orig)
    assert _weights(b)["step"] == 10
    _run(content, b, 20, resume=True)
    wa, wb = _weights(a)["model"], _weights(b)["model"]
    assert _weights(b)["step"] == 20
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k


def test_existing_run_needs_resume(tmp_path, content):
    from framestyle import UserError
    _run(content, tmp_path, 5)
    with pytest.raises(UserError, match="--resume"):
        _run(content, tmp_path, 5)


def test_export_matches_torch_at_odd_sizes(tmp_path):
    from framestyle.export.onnx import check_against_torch, export_onnx
    from framestyle.nets import arch_names, build
    for arch, kw in (("fast", {}), ("fast", {"ctx": 2}), ("fast8", {}), ("arm", {}), ("johnson-quarter", {}),
                     ("unet-small", {}), ("ladder", {"norm_every": 1}), ("ladder", {"full": 8, "half_blocks": 2}),
                     ("ms26", {"blocks": 2}), ("ms26", {"blocks": 1, "stem": "half"})):
        net = build(arch, **kw)
        path = tmp_path / f"{arch}{len(kw)}.onnx"
        export_onnx(net, path)
        m = getattr(net, "multiple", 0) or net.factor
        # odd multiples: the fast net's 1/16 context branch must line up with its 1/4 body
        stats = check_against_torch(net, path, [(m * 9, m * 13), (m * 17, m * 23)])
        assert stats["onnx_vs_torch_max_abs"] < 1e-4
    assert "fast" in arch_names()


def test_cli_distill_bad_input(tmp_path):
    res = run_cli("distill", "--teacher", "multistyle26:3", "-o", "x", "--steps", "5",
                  "--content", tmp_path / "missing-dir", "--workdir", tmp_path / "w")
    assert res.returncode == 2 and res.stderr.decode().strip().startswith("error:")
    res = run_cli("distill", "--teacher", "magenta", "-o", "x", "--steps", "5")
    assert res.returncode == 2 and "--style-image" in res.stderr.decode()


def test_crops_sit_on_the_teacher_grid_and_targets_are_never_resampled(content):
    """A crop's target is the teacher's full-frame output at the same aligned offset, pixel for pixel."""
    from framestyle.imageio import load_image
    from framestyle.train.distill import ALIGN, make_pairs, sample_batch
    from framestyle.zoo.teachers import Teacher
    imgs = [load_image(p) for p in sorted(content.iterdir())]
    pairs = make_pairs(Teacher("multistyle26:12"), imgs, progress=False)
    assert len(pairs) == 2 * 2 * len(imgs)  # mirror x scales
    assert {p[0].shape[1] for p in pairs} == {160, 112}
    x, y = sample_batch(pairs, 6, 64, np.random.default_rng(3))
    for xi, yi in zip((x * 255).round().byte().permute(0, 2, 3, 1).numpy(),
                      (y * 255).round().byte().permute(0, 2, 3, 1).numpy()):
        hits = []
        for px, py in pairs:
            for top in range(0, px.shape[0] - 63):
                for left in range(0, px.shape[1] - 63):
                    if px[top, left, 0] == xi[0, 0, 0] and np.array_equal(px[top:top + 64, left:left + 64], xi):
                        hits.append((top, left, py[top:top + 64, left:left + 64]))
        assert hits, "crop not found in any source image"
        assert all(t % ALIGN == 0 and l % ALIGN == 0 for t, l, _ in hits[:1]), hits[0][:2]
        assert any(np.array_equal(t_y, yi) for _, _, t_y in hits)


def test_whole_frame_batches_are_exact_teacher_frames(content):
    from framestyle.imageio import load_image
    from framestyle.train.distill import make_pairs, sample_frames
    from framestyle.zoo.teachers import Teacher
    pairs = make_pairs(Teacher("multistyle26:12"), [load_image(p) for p in sorted(content.iterdir())],
                       progress=False)
    for step in range(4):
        x, y = sample_frames(pairs, 3, np.random.default_rng(step), small=step % 2 == 1)
        assert x.shape == y.shape and x.shape[0] == 3 and x.shape[2] % 8 == 0 and x.shape[3] % 8 == 0
        if step % 2:
            assert x.shape[3] == 112  # the early, cheap steps use the 0.7x frames
        xb = (x * 255).round().byte().permute(0, 2, 3, 1).numpy()
        yb = (y * 255).round().byte().permute(0, 2, 3, 1).numpy()
        h, w = xb.shape[1:3]
        for xi, yi in zip(xb, yb):
            assert any(np.array_equal(px[:h, :w], xi) and np.array_equal(py[:h, :w], yi) for px, py in pairs)


def test_stability_term_makes_the_student_steadier(tmp_path, content):
    """--stability trades a little fidelity for an output that moves less under noise and small shifts."""
    from framestyle.imageio import load_image
    from framestyle.runtime.stylizer import Stylizer
    from framestyle.train.distill import distill
    runs = {}
    for w in (0.0, 4.0):
        res = distill("multistyle26:12", f"s{int(w)}", arch="fast", arch_kwargs={"alpha": 0.34, "blocks": 2},
                      content=[str(content)], steps=60, batch=4, crop=64, workdir=tmp_path / f"w{w}",
                      out_dir=tmp_path / "out", eval_every=60, progress=False, threads=2, stability=w)
        runs[w] = Stylizer(res["path"])
    card = json.loads((tmp_path / "out" / "s4.json").read_text())
    assert card["training"]["stability"] == 4.0 and "stability" in card["training"]["method"]
    img = load_image(IMAGES / "home.jpg")[:120, :160]
    rng = np.random.default_rng(0)
    noisy = np.clip(img.astype(np.int16) + rng.normal(0, 5, img.shape).round().astype(np.int16), 0, 255)
    shifted = np.ascontiguousarray(np.roll(img, 2, axis=1))

    def change(st):
        a = st.stylize(img).astype(np.float32)
        n = st.stylize(noisy.astype(np.uint8)).astype(np.float32)
        s = np.roll(st.stylize(shifted).astype(np.float32), -2, axis=1)
        return float(np.mean((a - n) ** 2)), float(np.mean((a - s)[8:-8, 8:-8] ** 2))

    base, steady = change(runs[0.0]), change(runs[4.0])
    assert steady[1] < 0.8 * base[1] and sum(steady) < sum(base), (base, steady)  # mostly motion flicker


def test_shared_step_helpers():
    from framestyle.errors import UserError
    from framestyle.train.loop import optimise, running_average, set_lr
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = torch.optim.SGD([w], lr=0.5)
    set_lr(opt, 0.25)
    optimise(opt, (w ** 2).sum(), step=0)          # grad 2 -> w = 1 - 0.25 * 2
    assert abs(float(w) - 0.5) < 1e-6
    with pytest.raises(UserError, match="non-finite at step 7: lower --lr"):
        optimise(opt, (w * float("nan")).sum(), step=7)
    assert abs(float(w) - 0.5) < 1e-6               # a bad loss leaves the weights alone
    a = running_average(None, torch.tensor(2.0), 0.9)
    assert running_average(a, 4.0, 0.9) == pytest.approx(2.2)
    d = running_average(None, {"total": torch.tensor(1.0)}, 0.5)
    assert running_average(d, {"total": 3.0}, 0.5) == {"total": 2.0}
    v = running_average(running_average(None, [1.0, 2.0], 0.5), [3.0, 4.0], 0.5)
    assert list(v) == [2.0, 3.0]


def test_cli_distill_rt_preset_writes_float_and_int8(tmp_path, content):
    """`--arch mg-rt --int8`: the real-time recipe in one command (lr defaults to 5e-4 for it), the float model and
    its int8 copy with byte-exact ends, both with cards; the int8 name is checked before training."""
    from framestyle.runtime.session import uint8_graph
    import onnx
    out = tmp_path / "out"
    args = ("distill", "--teacher", "magenta", "--style-image", IMAGES / "starry_night.jpg", "--arch", "mg-rt",
            "--arch-arg", "blocks=1", "--content", content, "--steps", "3", "--workdir", tmp_path / "w",
            "--out-dir", out, "--threads", "2", "--int8", "-o", "rt", "--json")
    res = run_cli(*args, timeout=600)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    r = json.loads(res.stdout)
    card = json.loads((out / "rt.json").read_text())
    assert card["arch"] == "mg-rt" and card["training"]["lr"] == 5e-4
    q = json.loads((out / "rt-int8.json").read_text())
    assert r["int8"]["name"] == "rt-int8" and q["derived_from"] == "rt" and q["method"] == "int8"
    wrapped = onnx.load_from_string(uint8_graph(out / "rt-int8.onnx", int8_norms=False))
    assert "Cast" not in [n.op_type for n in wrapped.graph.node]
    assert q["command"] == f"framestyle quantize {out}/rt.onnx --out-dir {out} --int8 -o rt-int8 --force"
    (out / "rt.onnx").unlink()  # (rt itself is refused the same way: every output name is checked up front)
    again = run_cli(*args[:-1], timeout=120)  # rt-int8 exists: refused before any training
    assert again.returncode == 2 and "rt-int8" in again.stderr.decode() and "--force" in again.stderr.decode()
