"""Logits-table models: a tiny model, in the format an engine loads, whose next-token logits after
prompt token t are exactly row t of a table we choose. Engines that sample only inside their own
generation loop (CTranslate2, onnxruntime-genai, llama.cpp through GGUF) are then validated on the
validator's own rows. The recipe: one layer, hidden size R a power of 4 (so RMS normalisation of a
one-hot vector scaled by sqrt(R) is exact), attention and feed-forward output projections zero, and
the output matrix = the table transposed. -inf cannot be stored (0 * -inf is NaN): -1e30 stands for it.
One module per format."""

import atexit
import functools
import shutil
import tempfile
from pathlib import Path


@functools.cache
def scratch() -> Path:
    """This process's folder for the table models engines write (each once per table), removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="spec-tables-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder
