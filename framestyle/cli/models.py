"""Zoo commands: `models` (list, add, remove), `info`, `bench`."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from . import args as A


def add_parsers(sub):
    m = sub.add_parser("models", help="list the models in the zoo, or add one")
    m.add_argument("action", nargs="?", choices=["list", "add", "remove"], default="list")
    m.add_argument("path", nargs="?", help="for add: an .onnx file; for remove: a user model name")
    m.add_argument("--name", help="for add: the name to register under (a plain name; default: the file's stem)")
    m.add_argument("--force", action="store_true", help="for add: replace a user model of that name")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)

    i = sub.add_parser("info", help="versions, threads, architectures, folders")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    b = sub.add_parser("bench", help="time every model and the peer, same method, same run")
    b.add_argument("--models", help="comma-separated (default: built-in students, multistyle26, the peer)")
    b.add_argument("--sizes", default="256x256,640x480,1280x720")
    b.add_argument("--threads", default="2", help="comma-separated thread counts, e.g. 1,2")
    b.add_argument("--runs", type=A.positive_int, default=20)
    b.add_argument("--warmup", type=A.nonneg_int, default=3)
    b.add_argument("--rounds", type=A.positive_int, default=4,
                   help="split the runs over this many passes through all models (fair on a shared host)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench, needs=("skimage",))


def cmd_models(args) -> int:
    from ..zoo import add_user_model, list_models
    from ..outputs import plain_name
    from ..paths import user_models_dir
    if args.action == "add":
        if not args.path:
            raise UserError("models add needs an .onnx path")
        m = add_user_model(Path(args.path), args.name, force=args.force)
        print(json.dumps(m.to_json(), indent=2) if args.json else f"added {m.name} -> {m.path}")
        return 0
    if args.action == "remove":
        p = user_models_dir() / f"{plain_name(args.path, 'models remove')}.onnx"
        if not p.exists():
            raise UserError(f"no user model named {args.path!r} (built-in models cannot be removed)")
        p.unlink()
        p.with_suffix(".json").unlink(missing_ok=True)
        print(f"removed {args.path}")
        return 0
    models = list_models()
    if args.json:
        print(json.dumps([m.to_json() for m in models], indent=2))
        return 0
    from ..zoo.listing import table
    print(table(models))
    return 0


def cmd_info(args) -> int:
    import onnxruntime as ort
    from .. import __version__
    from ..paths import home, user_models_dir
    from ..runtime.session import default_threads
    from ..zoo import default_model, list_models
    try:
        from ..nets import arch_names
        archs = arch_names()
    except ImportError:
        archs = "(install the train extra: pip install torch==2.13.0)"
    payload = {"version": __version__, "onnxruntime": ort.__version__, "threads": default_threads(),
               "default_model": default_model(), "home": str(home()),
               "user_models": str(user_models_dir()),
               "models": len(list_models()), "architectures": archs}
    print(json.dumps(payload, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in payload.items()))
    return 0


def cmd_bench(args) -> int:
    from ..metrics.speed import PEER_API, PEER_RAW, bench, parse_sizes
    from ..zoo import list_models
    sizes = parse_sizes(args.sizes)
    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        raise UserError("--threads takes comma-separated integers, e.g. 1,2") from None
    if args.models:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
    else:
        models = [m.name for m in list_models() if m.builtin and m.kind != "arbitrary"] + [PEER_RAW, PEER_API]

    def show(r):
        if not args.json:
            print(f"{r['model']:28s} {r['width']:5d}x{r['height']:<5d} t={r['threads']}  "
                  f"median {r['ms_median']:8.1f} ms  p90 {r['ms_p90']:8.1f} ms  {r['fps']:6.1f} FPS", flush=True)

    rows = bench(models, sizes, threads, args.runs, args.warmup, progress=show, rounds=args.rounds)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0
