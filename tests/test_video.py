"""`framestyle video`: audio kept, frame count/rate kept, atomic output, clear errors."""
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from framestyle.cli import main
from framestyle.errors import UserError
from framestyle.runtime import Stylizer
from framestyle.runtime.live.video import stylize_video
from conftest import CLIPS, IMAGES  # noqa: E402


@pytest.fixture(scope="module")
def model(tiny_model):
    return str(tiny_model)


def make_clip(path: Path, frames: int = 30, fps: int = 15, size=(96, 64), audio_codec="aac", fmt=None):
    """A moving colour pattern with a 440 Hz tone."""
    w, h = size
    with av.open(str(path), "w", format=fmt) as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        a = c.add_stream(audio_codec, rate=44100)
        a.layout = "mono"
        yy, xx = np.mgrid[0:h, 0:w]
        for i in range(frames):
            img = np.stack([(xx * 4 + i * 8) % 256, (yy * 4) % 256, ((xx + yy + i * 5) * 2) % 256], 2)
            fr = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
            fr.pts = i
            c.mux(v.encode(fr))
        c.mux(v.encode(None))
        sr, total = 44100, int(44100 * frames / fps)
        fmt_a = "fltp" if audio_codec == "aac" else "s16"
        for start in range(0, total, 1024):
            n = min(1024, total - start)
            t = (np.arange(start, start + n) / sr).astype(np.float32)
            tone = 0.3 * np.sin(2 * np.pi * 440 * t)
            data = tone[None] if fmt_a == "fltp" else (tone * 32767).astype(np.int16)[None]
            af = av.AudioFrame.from_ndarray(data, format=fmt_a, layout="mono")
            af.sample_rate, af.pts, af.time_base = sr, start, Fraction(1, sr)
            c.mux(a.encode(af))
        c.mux(a.encode(None))
    return path


def probe(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        n = sum(1 for _ in c.decode(v))
    with av.open(str(path)) as c:
        a = c.streams.audio[0] if c.streams.audio else None
        info = {"frames": n, "fps": float(c.streams.video[0].average_rate), "w": c.streams.video[0].width,
                "h": c.streams.video[0].height, "codec": c.streams.video[0].codec_context.name,
                "audio": a.codec_context.name if a else None}
        if a is not None:
            samples = sum(f.samples for f in c.decode(a))
            info["audio_s"] = samples / a.codec_context.sample_rate
    return info


def test_audio_kept_frames_and_rate_preserved(tmp_path, model):
    src = make_clip(tmp_path / "in.mp4")
    res = stylize_video(src, tmp_path / "out.mp4", Stylizer(model), progress=False)
    a, b = probe(src), probe(tmp_path / "out.mp4")
    assert res["audio"] == "copy" and b["audio"] == "aac"
    assert b["frames"] == a["frames"] == 30
    assert b["fps"] == pytest.approx(15.0) and (b["w"], b["h"]) == (96, 64) and b["codec"] == "h264"
    assert abs(b["audio_s"] - a["audio_s"]) < 0.1 and a["audio_s"] == pytest.approx(2.0, abs=0.1)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_pcm_audio_reencoded_to_aac_and_max_size_even(tmp_path, model):
    src = make_clip(tmp_path / "in.avi", frames=20, size=(102, 70), audio_codec="pcm_mulaw")
    res = stylize_video(src, tmp_path / "out.mp4", Stylizer(model), max_size=75, progress=False)
    b = probe(tmp_path / "out.mp4")
    assert res["audio"] == "aac" and b["audio"] == "aac"
    assert b["frames"] == 20 and (b["w"], b["h"]) == (76, 52) and b["w"] % 2 == 0 and b["h"] % 2 == 0
    assert b["audio_s"] == pytest.approx(20 / 15, abs=0.1)


class FailingStylizer(Stylizer):
    def __init__(self, *a, fail_at=5, **k):
        super().__init__(*a, **k)
        self.n, self.fail_at = 0, fail_at

    def process(self, frame):
        self.n += 1
        if self.n == self.fail_at:
            raise RuntimeError("model crashed mid-run")
        return super().process(frame)


def test_failure_mid_run_leaves_no_output(tmp_path, model):
    src = make_clip(tmp_path / "in.mp4")
    dst = tmp_path / "out" / "final.mp4"
    with pytest.raises(RuntimeError, match="mid-run"):
        stylize_video(src, dst, FailingStylizer(model, fail_at=12), progress=False)
    assert not dst.exists()
    assert list(dst.parent.iterdir()) == []


def test_refuses_to_overwrite_input(tmp_path, model):
    src = make_clip(tmp_path / "in.mp4", frames=5)
    before = src.read_bytes()
    with pytest.raises(UserError, match="input"):
        stylize_video(src, tmp_path / "." / "in.mp4", Stylizer(model), progress=False)
    assert src.read_bytes() == before


@pytest.mark.parametrize("kind", ["missing", "corrupt", "empty", "image", "bad-ext"])
def test_cli_bad_input_one_error_line(tmp_path, model, capsys, kind):
    out = tmp_path / "out.mp4"
    src = tmp_path / "in.mp4"
    if kind == "corrupt":
        src.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    elif kind == "empty":
        src.write_bytes(b"")
    elif kind == "image":
        src = IMAGES / "home.jpg"
    elif kind == "bad-ext":
        src = make_clip(tmp_path / "in.mp4", frames=3)
        out = tmp_path / "out.gif"
    rc = main(["video", str(src), "-o", str(out), "--model", model])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error:")
    assert not out.exists()


def test_cli_video_json_on_real_clip(tmp_path, model, capsys):
    out = tmp_path / "walk.mp4"
    rc = main(["video", str(CLIPS / "asl_gestures_walk.mkv"), "-o", str(out), "--model", model,
               "--max-size", "160", "--stabilize", "--json"])
    assert rc == 0
    import json
    res = json.loads(capsys.readouterr().out)
    assert res["frames"] == 89 and res["width"] == 160 and res["height"] == 120
    assert probe(out)["frames"] == 89


def test_cli_video_stabilises_by_default_and_can_opt_out(tmp_path, model, capsys):
    import json
    src = make_clip(tmp_path / "in.mp4", frames=4)
    for extra, want in (([], 0.6), (["--stabilize", "0.3"], 0.3), (["--no-stabilize"], None)):
        out = tmp_path / f"out{len(extra)}{want}.mp4"
        rc = main(["video", str(src), "-o", str(out), "--model", model, "--json"] + extra)
        assert rc == 0
        res = json.loads(capsys.readouterr().out)
        assert res["stabilizer"] == want and probe(out)["frames"] == 4
