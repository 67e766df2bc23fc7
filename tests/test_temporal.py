"""Warping error on a synthetic pan with exact flow, and the stabiliser on a real clip."""
import json

import numpy as np
import pytest

from framestyle.cli import main
from framestyle.imageio import load_image
from framestyle.metrics.temporal import input_flows, synthetic_pan, warping_error
from framestyle.runtime import Stylizer
from framestyle.runtime.live import Stabilizer
from framestyle.runtime.live.codec import open_video
from conftest import CLIPS, IMAGES, builtin_students  # noqa: E402

# a built-in student of multistyle26 (a fast teacher for the PSNR columns)
MS26_STUDENT = next(m.name for m in builtin_students() if m.teacher.startswith("multistyle26:"))

PHOTO = str(IMAGES / "building.jpg")


@pytest.fixture(scope="module")
def pan():
    return synthetic_pan(load_image(PHOTO), frames=8, size=(160, 120), pan=(2.3, -1.1), zoom=1.01)


def test_synthetic_flow_is_exact(pan):
    frames, flows = pan
    # the flow maps frame t onto t+1: warping frame t+1 back reproduces frame t (up to resampling)
    assert warping_error(frames, flows) < 2e-3
    # a wrong flow (zero motion) is clearly worse
    zero = [(np.zeros_like(f), np.zeros_like(b)) for f, b in flows]
    assert warping_error(frames, zero) > 10 * warping_error(frames, flows)


def test_consistent_output_scores_near_zero_and_flicker_scores_high(pan):
    frames, flows = pan
    consistent = [255 - f for f in frames]  # a per-pixel colour map moves with the scene
    rng = np.random.default_rng(0)
    flicker = [np.clip(f.astype(int) + rng.integers(-25, 26, f.shape), 0, 255).astype(np.uint8) for f in frames]
    e_ok, e_bad = warping_error(consistent, flows), warping_error(flicker, flows)
    assert e_ok < 2e-3
    assert e_bad > 5 * e_ok and e_bad > 0.01
    # DIS flow on the inputs agrees with the exact flow well enough for the same verdict
    assert warping_error(consistent, inputs=frames) < 0.3 * warping_error(flicker, inputs=frames)


def test_stabiliser_lowers_warping_error_on_real_clip(tmp_path):
    c = open_video(str(CLIPS / "asl_gestures_walk.mkv"))
    import cv2
    inputs = []
    for fr in c.decode(video=0):
        inputs.append(cv2.resize(fr.to_ndarray(format="rgb24"), (320, 240), interpolation=cv2.INTER_AREA))
        if len(inputs) == 10:
            break
    c.close()
    st = Stylizer("multistyle26", style=7)
    fbf = [st.process(f).copy() for f in inputs]
    stab = Stabilizer(0.6)
    out = [stab.step(f, s) for f, s in zip(inputs, fbf)]
    flows = input_flows(inputs)
    e_fbf, e_stab = warping_error(fbf, flows), warping_error(out, flows)
    assert e_stab < 0.8 * e_fbf
    assert stab.resets == 1 and stab.last_coverage > 0.5
    # a scene cut resets the history instead of ghosting
    black = np.zeros_like(inputs[0])
    cut = stab.step(black, st.process(black))
    assert np.array_equal(cut, st.process(black)) and stab.resets == 2


def test_eval_temporal_cli_synthetic(tmp_path, capsys):
    rc = main(["eval", "temporal", "--video", "synthetic", "--model", "multistyle26", "--style", "7", "--frames", "5",
               "--max-size", "320", "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)["results"]
    assert set(res) == {"input", "frame_by_frame", "stabilised", "averaged_0.5"}
    assert res["stabilised"]["warping_error"] < res["frame_by_frame"]["warping_error"]
    assert res["input"]["warping_error"] < res["frame_by_frame"]["warping_error"]
    assert res["stabilised"]["psnr_vs_frame_by_frame"] > res["averaged_0.5"]["psnr_vs_frame_by_frame"]
    # multistyle26 is itself a teacher: no teacher columns; a pan has no scene cuts
    assert all("psnr_vs_teacher" not in row for row in res.values())
    assert res["stabilised"]["warping_error_within_shots"] == res["stabilised"]["warping_error"]


def test_stabiliser_on_pan_steadier_and_close_to_teacher():
    """Issue #6: <= 0.5x the frame-by-frame warping error on the synthetic pan, the PSNR it costs against the
    teacher reported consistently and bounded, and averaging as steady (if any weight gets there on a pan) is
    further from it. The < 1 dB ghosting target is not met (docs/live.md: +2.25 dB for starry); with this 6-frame
    320 px pan it is 1.05 dB for ember (multi26 style 5), 1.72 for starry, 1.34 for graffiti (the ember file before
    session 13, 22.5 dB vs its teacher, was under 1 dB)."""
    from framestyle.metrics.temporal import evaluate_temporal
    from framestyle.zoo import get_model
    res = evaluate_temporal("synthetic", MS26_STUDENT, frames=6, max_size=320)
    assert res["teacher"] == get_model(MS26_STUDENT).teacher and res["cut_pairs"] == []
    r = res["results"]
    assert r["stabilised"]["vs_frame_by_frame"] <= 0.5
    ghost = r["frame_by_frame"]["psnr_vs_teacher"] - r["stabilised"]["psnr_vs_teacher"]
    assert abs(res["ghosting_db"] - ghost) < 0.011 and 0 < ghost < 2.5
    eq = res["averaged_at_equal_error"]
    assert eq is None or eq["psnr_vs_teacher"] < r["stabilised"]["psnr_vs_teacher"]


def test_prepared_clip_and_teacher_frames_give_the_same_result():
    """bench/stability_compare.py loads a clip and runs the teacher once, then passes them for every model."""
    from framestyle.metrics.temporal import evaluate_temporal, load_clip
    from framestyle.zoo.teachers import Teacher
    from framestyle.zoo import get_model
    clip = load_clip(str(CLIPS / "Megamind.avi"), 4, 160)
    t = Teacher(get_model(MS26_STUDENT).teacher)
    t_out = [np.clip(t(f) * 255 + 0.5, 0, 255).astype(np.uint8) for f in clip[0]]
    fresh = evaluate_temporal(str(CLIPS / "Megamind.avi"), MS26_STUDENT, frames=4, max_size=160)
    given = evaluate_temporal(str(CLIPS / "Megamind.avi"), MS26_STUDENT, frames=4, max_size=160, clip=clip,
                              teacher_out=t_out)
    assert given["results"] == fresh["results"] and given["teacher"] == fresh["teacher"]
    assert fresh["results"]["frame_by_frame"]["psnr_vs_teacher"] > 10


def test_scene_cut_resets_and_is_left_out_within_shots():
    """Megamind.avi opens with a black frame: the stabiliser restarts instead of ghosting it into the shot
    (too little of the frame is tracked, though the mean change is below cut_threshold), and the metric
    reports the cut pair separately."""
    from framestyle.metrics.temporal import _read_frames, evaluate_temporal
    frames = _read_frames(CLIPS / "Megamind.avi", 3, 160)
    st = Stylizer(MS26_STUDENT)
    stab = Stabilizer(0.6)
    outs = [stab.step(f, st.process(f)) for f in frames]
    assert stab.resets == 2 and np.array_equal(outs[1], st.process(frames[1]))
    assert stab.last_coverage > 0.8  # the next frame of the shot is tracked again
    res = evaluate_temporal(str(CLIPS / "Megamind.avi"), MS26_STUDENT, frames=4, max_size=160, teacher="none")
    assert res["cut_pairs"] == [0] and res["teacher"] is None and res["ghosting_db"] is None
    row = res["results"]["stabilised"]
    assert row["warping_error_within_shots"] < row["warping_error"]
    assert row["vs_frame_by_frame_within_shots"] < 0.8


def test_eval_temporal_bad_video(tmp_path, capsys):
    rc = main(["eval", "temporal", "--video", str(tmp_path / "none.mp4"), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error:")


@pytest.fixture(scope="module")
def still():
    from framestyle.metrics.temporal import synthetic_still
    return synthetic_still(load_image(PHOTO), frames=8, size=(320, 240), noise=4.0)


def test_still_scene_is_blended_in_place_not_resampled(still):
    """Issue #22: on a tripod shot with sensor noise the stabiliser must not resample (smear) the history:
    every pixel is blended in place, i.e. exactly the exponential average with the stabiliser's weight."""
    from framestyle.metrics.temporal import exp_average
    frames, _ = still
    st = Stylizer("multistyle26", style=7)
    fbf = [st.process(f).copy() for f in frames]
    stab = Stabilizer(0.6)
    out = [stab.step(f, s) for f, s in zip(frames, fbf)]
    assert stab.resets == 1 and stab.last_still > 0.99 and stab.last_coverage > 0.95
    ref = exp_average(fbf, 0.6)
    diff = np.abs(np.stack(out).astype(int) - np.stack(ref).astype(int))
    assert diff.max() <= 4  # rounding to uint8 at each step only (a resampled history drifts by ~20)
    import cv2
    for prev, cur, o in zip(out, fbf[1:], out[1:]):  # bit-exact: the previous output blended in place
        assert np.mean(o == cv2.addWeighted(prev, 0.6, cur, 0.4, 0.0)) > 0.99


def test_only_the_moving_object_is_resampled():
    """A square moves over a still photo: the history is warped with it (no ghost trail), and every pixel away
    from it is the previous output blended in place, bit for bit."""
    import cv2
    photo = load_image(PHOTO)
    bg = cv2.resize(photo, (320, 240), interpolation=cv2.INTER_AREA)
    patch = cv2.resize(photo[:200, -200:], (64, 64), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(1)
    stab, outs, frames = Stabilizer(0.6), [], []
    for t in range(8):
        f = bg.copy()
        x = 40 + 4 * t
        f[80:144, x:x + 64] = patch
        frames.append(f)
        flicker = np.clip(f.astype(int) + rng.integers(-12, 13, (1, 1, 3)), 0, 255).astype(np.uint8)
        outs.append(stab.step(f, flicker))
        if t:
            in_place = cv2.addWeighted(outs[-2], 0.6, flicker, 0.4, 0.0)
            far = np.ones((240, 320), bool)
            far[80 - 24:144 + 24, x - 4 - 24:x + 64 + 24] = False  # the square, where it was, and a margin
            assert np.array_equal(outs[-1][far], in_place[far])
            inner = (slice(88, 136), slice(x + 8, x + 56))
            err_warped = np.abs(outs[-1][inner].astype(int) - flicker[inner]).mean()
            err_ghost = np.abs(in_place[inner].astype(int) - flicker[inner]).mean()
            assert err_warped < 0.5 * err_ghost, (t, err_warped, err_ghost)
    assert stab.resets == 1 and 0.5 < stab.last_still < 0.99


def test_still_scene_as_close_to_per_frame_as_equally_steady_averaging(still):
    """At equal warping error the stabiliser stays as close to the per-frame stylisation as averaging
    (no blur: its high frequencies are those of the average), on a noisy still and on a moving pan."""
    import cv2
    from framestyle.metrics.temporal import evaluate_temporal
    res = evaluate_temporal("still", "multistyle26", style=7, frames=8, max_size=320, teacher="none", clip=still)
    r, eq = res["results"], res["averaged_at_equal_error"]
    assert r["stabilised"]["vs_frame_by_frame"] < 0.3
    assert r["stabilised"]["psnr_vs_frame_by_frame"] >= eq["psnr_vs_frame_by_frame"] - 0.05
    frames, _ = still
    st = Stylizer("multistyle26", style=7)
    stab = Stabilizer(0.6)
    last = [stab.step(f, st.process(f)) for f in frames][-1]
    from framestyle.metrics.temporal import exp_average
    avg = exp_average([st.process(f).copy() for f in frames], eq["smooth"])[-1]

    def sharpness(img):
        return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())
    assert sharpness(last) >= 0.97 * sharpness(avg)
