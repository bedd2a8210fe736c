"""A real ``transformers.Trainer`` training a tiny randomly initialised GPT-2 on CPU (no
downloads: a config, random tokens), saving every 2 steps, with ``EvalCallback`` attached.

Run by ``test_trainer_callback.py`` with the lane environment's python (it has torch and
transformers) and our ``src`` on PYTHONPATH::

    python trainer_script.py SERVER_URL LEDGER OUTPUT_DIR

Prints one JSON object: the keys the callback submitted, and the log history entries that
carry evaluation metrics.
"""

from __future__ import annotations

import json
import sys

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client._watch.submission import CheckpointSubmission
from lmms_eval_client.hf import EvalCallback


class RandomTokens(torch.utils.data.Dataset):  # type: ignore[type-arg]
    def __len__(self) -> int:
        return 64

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        ids = torch.randint(0, 64, (8,), generator=torch.Generator().manual_seed(index))
        return {"input_ids": ids, "labels": ids}


def main() -> None:
    url, ledger, output_dir = sys.argv[1:4]
    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(
            n_layer=1,
            n_head=2,
            n_embd=16,
            vocab_size=64,
            n_positions=16,
            bos_token_id=0,
            eos_token_id=0,
        )
    )
    args = TrainingArguments(
        output_dir=output_dir, max_steps=6, save_steps=2, logging_steps=1,
        per_device_train_batch_size=4, report_to=[], use_cpu=True,
        disable_tqdm=True,
    )  # fmt: skip
    what = CheckpointSubmission(model="qwen2_vl", tasks=["mme"])
    with EvalClient(url) as client, EvalRun(client, ledger, poll_interval=0.05) as run:
        trainer = Trainer(model=model, args=args, train_dataset=RandomTokens())
        callback = EvalCallback(run, submit=what, wait_at_end=120).attach(trainer)
        trainer.train()
        evals = [
            entry
            for entry in trainer.state.log_history
            if any(k.startswith("eval/") for k in entry)
        ]
        print(json.dumps({"submitted": [job.key for job in callback.submitted], "evals": evals}))


if __name__ == "__main__":
    main()
