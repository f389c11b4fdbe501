"""Train MuLan: `accelerate launch examples/train.py [options]` (or plain `python examples/train.py`).

With no arguments: renders the embedded corpus into outputs/corpus if it is missing, trains the `tiny` preset on
CPU, validates zero-shot tagging on the corpus's validation split, and saves model + processor + model card to
outputs/mulan-tiny/model. Every option of mulan_hf.training.TrainingArguments is a flag (--max_steps 300, ...).
"""

import argparse
import dataclasses
import json
import sys

from mulan_hf.training.trainer import TrainingArguments, train


def parse(argv: list[str] | None = None) -> TrainingArguments:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for field in dataclasses.fields(TrainingArguments):
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        if isinstance(default, bool):
            parser.add_argument(
                f"--{field.name}",
                type=lambda v: v.lower() in ("1", "true", "yes"),
                default=default,
                metavar="BOOL",
                help=f"default {default}",
            )
        elif isinstance(default, list):
            parser.add_argument(
                f"--{field.name}",
                type=json.loads,
                default=default,
                metavar="JSON",
                help='e.g. [{"name": "caption", "columns": ["caption"], "weight": 1}]',
            )
        else:
            kind = type(default) if default is not None else str
            parser.add_argument(f"--{field.name}", type=kind, default=default, help=f"default {default}")
    return TrainingArguments(**vars(parser.parse_args(argv)))


if __name__ == "__main__":
    summary = train(parse(sys.argv[1:]))
    print(json.dumps(summary, indent=2))
