"""`framestyle live`: stale-frame dropping, sources and sinks on 127.0.0.1, clear errors."""
import json
import time

import cv2
import httpx
import numpy as np
import pytest

from framestyle.cli import main
from framestyle.runtime import Stylizer
from framestyle.runtime.live import open_sink, open_source, run_live
from framestyle.runtime.live.sinks import MjpegSink, NullSink
from framestyle.runtime.live.sources import ArraySource
from conftest import CLIPS  # noqa: E402

CLIP = str(CLIPS / "asl_gestures_walk.mkv")


@pytest.fixture(scope="module")
def model(tiny_model):
    return str(tiny_model)


def frames(n=60, size=(64, 48)):
    w, h = size
    return [np.full((h, w, 3), (i * 4) % 256, np.uint8) for i in range(n)]


class SlowStylizer(Stylizer):
    def process(self, frame):
        time.sleep(0.1)
        return super().process(frame)


def test_slow_model_drops_stale_frames_and_latency_stays_bounded(model):
    src = ArraySource(frames(60), fps=30, realtime=True)
    stats = run_live(src, SlowStylizer(model), NullSink())
    assert stats["frames_in"] == 60
    assert stats["dropped"] > 20 and stats["frames_out"] < 30
    assert stats["frames_out"] + stats["dropped"] == 60
    # one frame in the model + at most one waiting: ~2 model times, never the whole backlog
    assert stats["latency_ms"]["p90"] < 350
    assert stats["latency_ms"]["max"] < 600


def test_file_source_as_fast_as_possible_keeps_every_frame(model, tmp_path):
    out = tmp_path / "live.mp4"
    src = open_source(CLIP)
    sink = open_sink(str(out), fps=src.fps)
    stats = run_live(src, Stylizer(model), sink, max_size=160)
    sink.close()
    assert stats["frames_in"] == stats["frames_out"] == 89 and stats["dropped"] == 0
    import av
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 89
        assert (c.streams.video[0].width, c.streams.video[0].height) == (160, 120)


def test_folder_source_and_mjpeg_sink_read_by_http_client(model, tmp_path):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((48, 64, 3), 60 * i, np.uint8))
    sink = MjpegSink(port=0)
    try:
        stats = run_live(open_source(str(tmp_path)), Stylizer(model), sink)
        assert stats["frames_out"] == 4
        with httpx.Client(timeout=5) as client:
            assert "/stream" in client.get(f"http://127.0.0.1:{sink.port}/").text
            with client.stream("GET", sink.url) as r:
                assert r.headers["content-type"].startswith("multipart/x-mixed-replace")
                buf = b""
                for chunk in r.iter_bytes():
                    buf += chunk
                    if buf.count(b"\xff\xd9") >= 1:
                        break
        start = buf.index(b"\xff\xd8")
        img = cv2.imdecode(np.frombuffer(buf[start:buf.index(b"\xff\xd9") + 2], np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (48, 64, 3)
    finally:
        sink.close()


def test_http_mjpeg_source_from_local_server(model):
    server = MjpegSink(port=0)
    stop = [False]
    import threading

    def feed():
        i = 0
        while not stop[0]:
            server.write(np.full((48, 64, 3), (i * 10) % 256, np.uint8))
            i += 1
            time.sleep(0.03)

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    try:
        src = open_source(server.url)
        stats = run_live(src, Stylizer(model), NullSink(), duration=1.5)
        assert stats["frames_out"] >= 5
    finally:
        stop[0] = True
        t.join()
        server.close()


def _dead_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("kind", ["missing", "corrupt", "dead-url", "webcam", "empty-dir", "bad-sink"])
def test_bad_sources_exit_2_with_one_error_line(kind, tmp_path, model, capsys):
    sink = "null"
    if kind == "missing":
        source = str(tmp_path / "nope.mp4")
    elif kind == "corrupt":
        source = str(tmp_path / "bad.mp4")
        (tmp_path / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    elif kind == "dead-url":
        source = f"http://127.0.0.1:{_dead_port()}/stream"
    elif kind == "webcam":
        source = "webcam:57"
    elif kind == "empty-dir":
        source = str(tmp_path)
    else:
        source, sink = CLIP, "foo.xyz"
    rc = main(["live", "--source", source, "--sink", sink, "--model", model])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error:"), err


def test_cli_live_json_realtime(model, capsys):
    rc = main(["live", "--source", CLIP, "--sink", "null", "--model", model, "--realtime", "--max-size", "160",
               "--duration", "2", "--stabilize", "--json"])
    assert rc == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["frames_out"] > 20 and stats["stabilizer"] is True
    assert 0 < stats["latency_ms"]["p50"] <= stats["latency_ms"]["p90"]


class SlowStabilizer:
    """The real stabiliser with its two stages slowed down (flow 50 ms, blend 10 ms)."""

    def __init__(self):
        from framestyle.runtime.live import Stabilizer
        self.s, self.enabled = Stabilizer(0.6), True

    def motion(self, frame):
        time.sleep(0.05)
        return self.s.motion(frame)

    def blend(self, out, m):
        time.sleep(0.01)
        return self.s.blend(out, m)


class SleepyStylizer(Stylizer):
    def process(self, frame):
        time.sleep(0.06)
        return super().process(frame)


def test_model_and_stabiliser_overlap(model):
    """Flow runs beside the model and the blend after it: a 60 ms model with a 60 ms stabiliser still delivers
    at the model's rate, not at 120 ms per frame."""
    src = ArraySource(frames(25, (160, 120)), realtime=False)
    stats = run_live(src, SleepyStylizer(model), NullSink(), stabilizer=SlowStabilizer())
    assert stats["frames_in"] == stats["frames_out"] == 25 and stats["in_flight"] == 0
    assert stats["flow_ms_p50"] >= 50 and stats["blend_ms_p50"] >= 10
    model_fps = 1000 / stats["stylise_ms_p50"]  # the model's own rate in this run (>= 60 ms per frame)
    serial_fps = 1000 / (stats["stylise_ms_p50"] + stats["flow_ms_p50"] + stats["blend_ms_p50"])
    assert stats["fps"] > 0.65 * model_fps and stats["fps"] > 1.3 * serial_fps  # serial: ~0.5x the model


def test_counts_add_up_when_stopped_mid_run(model):
    """Issue #20: in = out + dropped + in flight at stop (each reported), paced source, stabiliser on."""
    src = ArraySource(frames(200, (160, 120)), fps=30, realtime=True)
    from framestyle.runtime.live import Stabilizer
    stats = run_live(src, SlowStylizer(model), NullSink(), stabilizer=Stabilizer(0.6), duration=2.0)
    assert stats["dropped"] == stats["dropped_stale"] + stats["dropped_late"] > 10
    assert stats["frames_in"] == stats["frames_out"] + stats["dropped"] + stats["in_flight"]
    assert 0 < stats["in_flight"] <= 4 and stats["frames_in"] < 200
    assert set(stats["counters"]) >= {"frames_in", "frames_out", "dropped", "in_flight"}


def test_cli_live_any_painting_stabilised(capsys):
    """The issue's command: any painting (--method student), stabilised, null sink, --json."""
    style = str(CLIPS.parent / "images" / "starry_night.jpg")
    rc = main(["live", "--source", CLIP, "--method", "student", "--style-image", style, "--stabilize",
               "--sink", "null", "--duration", "3", "--max-size", "320", "--json"])
    assert rc == 0
    s = json.loads(capsys.readouterr().out)
    assert s["stabilizer"] is True and s["frames_out"] >= 5 and s["flow_ms_p50"] is not None
    assert s["frames_in"] == s["frames_out"] + s["dropped"] + s["in_flight"]


@pytest.mark.parametrize("stabilised", [False, True])
def test_model_session_does_not_spin_beside_the_stabiliser(stabilised):
    """With the stabiliser on, the model's session is opened without ORT's spinning workers (they took the cores
    the stabiliser's threads need: docs/live.md); without it, ORT's default."""
    from framestyle.runtime.live.stabilizer import Stabilizer
    st = Stylizer("starry")
    src = ArraySource([cv2.resize(f, (96, 64)) for f in _clip_frames(6)], fps=30, realtime=False)
    run_live(src, st, NullSink(), stabilizer=Stabilizer(0.6) if stabilised else None)
    entry = st._sess.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") \
        if _has_entry(st._sess) else None
    assert (entry == "0") == stabilised, entry


def _has_entry(sess):
    try:
        sess.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
        return True
    except Exception:  # ORT raises when the entry was never set
        return False


def _clip_frames(n):
    cap, out = cv2.VideoCapture(CLIP), []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    return out
