"""Quantise an arbitrary-style student (the float cond-mg net behind `arbitrary`): calibrated with real style
vectors, measured on held-out photos x held-out styles against Magenta and against the float student.

    framestyle quantize runs/arbitrary/out/arbitrary-float.onnx --int8 -o my-arbitrary
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..zoo import ModelInfo

CALIB_STYLES = 8  # training style images (never a held-out one) whose vectors calibrate the activations


def calibration_styles(n: int = CALIB_STYLES) -> list:
    """(100,) Magenta vectors of `n` training style images spread over the training style set."""
    from ..train.arbitrary import build_style_set
    from ..zoo.magenta import MagentaTeacher
    styles = build_style_set(progress=False)
    teacher = MagentaTeacher()
    pick = np.linspace(0, len(styles) - 1, n).round().astype(int)
    return [teacher.style_vector(styles[i][1]) for i in pick]


def compare_students(ref: Path, other: Path, size: int = 512) -> dict:
    """`other` vs Magenta and vs the float student `ref`, held-out photos x held-out styles at `size`."""
    from ..train.arbitrary import held_out_styles, student_fidelity
    from ..zoo.magenta import MagentaTeacher
    res = student_fidelity(other, MagentaTeacher(), held_out_styles(), size, ref=ref)
    if not res["per_image"]:
        from ..errors import UserError
        raise UserError("no held-out photos found to measure quality (FRAMESTYLE_SHARED_DATA)")
    return res


def phase_stem_copy(src: ModelInfo, dst: Path):
    """For int8: a cond-mg student with the teacher-form stem, re-exported with its stem on 2x2 phases (exact:
    same function; int8 runs the full-resolution 3-channel 9x9 conv slowly). None for other students."""
    kw = src.card.get("arch_kwargs") or {}
    if src.card.get("arch") != "cond-mg" or kw.get("stem", "teacher") != "teacher":
        return None
    from ..nets import build
    from ..train.arbitrary import export_student
    try:
        net = build("cond-mg", **kw).load_onnx(src.path).eval().with_phase_stem()
    except (ValueError, RuntimeError) as exc:
        from ..errors import UserError
        raise UserError(f"model {src.name!r}: its card's arch_kwargs {kw} do not match its ONNX ({exc})") from None
    export_student(net, dst)
    return {"rewrite": "stem on 2x2 phases (exact: nets/mgnet.py phase_stem)", "arch_kwargs": {**kw, "stem": "phase"}}


def quantize_student(src: ModelInfo, method: str, name: str, calib_dir=None, out_dir=None,
                     force: bool = False) -> dict:
    """Quantise the student `src`, measure it, and add it to the user zoo as `name` (or write it to `out_dir`)."""
    import json
    from .quantize import calibration_card, calibration_images, check_name, derived_card, quantize_file, save_model
    check_name(name, src.name, out_dir, force)
    calib = calibration_images(calib_dir) if method == "int8" else None
    styles = calibration_styles() if method == "int8" else None
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / f"{name}.onnx"
        rewrite = phase_stem_copy(src, Path(td) / "phase.onnx") if method == "int8" else None
        quantize_file(Path(td) / "phase.onnx" if rewrite else src.path, tmp, method, calib, src.multiple, styles)
        card = derived_card(src, method, tmp)
        card.update(method="student", quantization=method, **(rewrite or {}))  # `method` picks the backend
        if calib:
            card["calibration"] = calibration_card(calib, calib_dir, styles=len(styles))
        tmp.with_suffix(".json").write_text(json.dumps(card, indent=2))
        card["fidelity"] = compare_students(src.path, tmp)
        info = save_model(tmp, name, card, out_dir)
    f = card["fidelity"]
    return {"name": info.name, "path": str(info.path), "method": method, "derived_from": src.name,
            "size_bytes": info.size_bytes, "source_size_bytes": src.size_bytes, "psnr_vs_teacher": f["psnr"],
            "ssim_vs_teacher": f["ssim"], "psnr_vs_source": f["psnr_vs_source"],
            "ssim_vs_source": f["ssim_vs_source"]}
