"""A per-premises table other than the ledger (fees) read a block of rows at a time.

Fees grow with the portfolio too: 1.1 million lines for 200,000 premises, whose whole-file
reading and validation took 660 MB at once. Their rules look at one row at a time, so each
block (etl.reader.stream) goes through the very validator the whole table would
(etl.reader.validate: same messages, same rows named), and the blocks' results are kept with
their text as categoricals: a fee table repeats its components, rates and dates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.types import union_categoricals

from etl.reader.stream import Block, coded

STREAMED_TABLES = {"fees"}  # besides the ledger (etl.reader.ledger_blocks)


def text_frame(block: Block, codec: str) -> pd.DataFrame:
    """The block's positional columns as text (each distinct value decoded once)."""
    out = {}
    for name in block.table.column_names:
        codes, values = coded(block.table.column(name), codec)
        out[name] = values.take(pa.array(codes)).to_pandas().array
    return pd.DataFrame(out)


def joined(frames: list[pd.DataFrame], file: str) -> pd.DataFrame:
    """The validated blocks as one table: text as categoricals over all blocks' values,
    numbers as they are, each block's columns dropped once copied."""
    if len(frames) == 1:
        return frames[0]
    columns = list(frames[0].columns)
    out: dict[str, object] = {}
    for name in columns:
        pieces = [frame.pop(name) for frame in frames]
        if name == "_file":
            continue
        if pieces[0].dtype.kind in "iub":
            out[name] = np.concatenate([p.to_numpy() for p in pieces])
        else:
            out[name] = union_categoricals([pd.Categorical(p) for p in pieces])
    frame = pd.DataFrame(out, copy=False)
    frame["_file"] = pd.Categorical.from_codes(np.zeros(len(frame), np.int8), [file])
    return frame[columns]
