"""Re-export a trained -rt checkpoint with the current graph code (style norms as one InstanceNormalization)."""
import sys, json, torch
from pathlib import Path
from framestyle.nets import build
from framestyle.train.loop import finish_model
name, run = sys.argv[1], sys.argv[2]
c = torch.load(f"{run}/checkpoint.pt", weights_only=False)
net = build(c["arch"], **c["arch_kwargs"]); net.load_state_dict(c["model"]); net.eval()
card = json.loads(Path(f"runs/s6/out2/{name}.json").read_text())
print(finish_model(net, name, card, Path("runs/s6/out3"), multiple=4))
