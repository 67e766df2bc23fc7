"""Re-export a trained checkpoint with the current graph code (the sigmoid before the last pixel shuffle, so
the int8 graph ends in byte-exact codes). Usage: reexport.py NAME RUN_DIR  (card from runs/s7/out, to runs/s7/out2)"""
import sys, json, torch
from pathlib import Path
from framestyle.nets import build
from framestyle.train.loop import finish_model
name, run = sys.argv[1], sys.argv[2]
c = torch.load(f"{run}/checkpoint.pt", weights_only=False)
net = build(c["arch"], **c["arch_kwargs"]); net.load_state_dict(c["model"]); net.eval()
card = json.loads(Path(f"runs/s7/out/{name}.json").read_text())
print(finish_model(net, name, card, Path("runs/s7/out2"), multiple=4))
