"""A real ``transformers.Trainer`` training a tiny randomly initialised GPT-2 on CPU (no
downloads: a config, random tokens), saving every 2 steps, with ``EvalCallback`` attached.

Run by ``test_trainer_callback.py`` with the lane environment's python (it has torch and
transformers) and our ``src`` on PYTHONPATH::

    python trainer_script.py SERVER_URL LEDGER OUTPUT_DIR

Prints one JSON object: the keys the callback submitted, and the log history entries that
carry evaluation metrics.

By default it submits ``qwen2_vl`` on ``mme`` (for the LocalServer). For the real server,
``TRAINER_SUBMIT`` (JSON: CheckpointSubmission's arguments) says what to submit, and
``TRAINER_EVALUABLE=1`` makes each checkpoint one the real server can evaluate on CPU: a
character-level tokenizer with a chat template saved beside the weights, room for a prompt
(512 positions), and the model class of ``lane_lm.py`` (see there why). ``TRAINER_MAX_STEPS``
(default 6) and ``TRAINER_WAIT_AT_END`` (seconds, default 120) set the training's length and
the callback's wait for the last evaluations.
"""

from __future__ import annotations

import json
import os
import string
import sys
from typing import Any

import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
)

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client._watch.submission import CheckpointSubmission
from lmms_eval_client.hf import EvalCallback


class RandomTokens(torch.utils.data.Dataset):  # type: ignore[type-arg]
    def __len__(self) -> int:
        return 64

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        ids = torch.randint(0, 64, (8,), generator=torch.Generator().manual_seed(index))
        return {"input_ids": ids, "labels": ids}


CHAT_TEMPLATE = (
    "{% for m in messages %}{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}\n{% endfor %}{% if add_generation_prompt %}A:{% endif %}"
)


def char_tokenizer() -> PreTrainedTokenizerFast:
    """One token per printable character (pad 0, eos 1, unk 2): built here, no download."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    specials = ["<|pad|>", "<|eos|>", "<unk>"]
    vocab = {token: i for i, token in enumerate(specials + sorted(set(string.printable)))}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<|pad|>", eos_token="<|eos|>", unk_token="<unk>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(evaluable: bool) -> GPT2LMHeadModel:
    if not evaluable:
        config = GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=64, n_positions=16,
                            bos_token_id=0, eos_token_id=0)  # fmt: skip
        return GPT2LMHeadModel(config)
    from lane_lm import LaneLM  # beside this script

    config = GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=128, n_positions=512,
                        bos_token_id=1, eos_token_id=1, pad_token_id=0)  # fmt: skip
    return LaneLM(config)


def main() -> None:
    url, ledger, output_dir = sys.argv[1:4]
    evaluable = os.environ.get("TRAINER_EVALUABLE") == "1"
    submission: dict[str, Any] = json.loads(
        os.environ.get("TRAINER_SUBMIT", '{"model": "qwen2_vl", "tasks": ["mme"]}')
    )
    torch.manual_seed(0)
    model = build_model(evaluable)
    args = TrainingArguments(
        output_dir=output_dir, max_steps=int(os.environ.get("TRAINER_MAX_STEPS", "6")),
        save_steps=2, logging_steps=1, per_device_train_batch_size=4, report_to=[],
        use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    what = CheckpointSubmission(**submission)
    wait_at_end = float(os.environ.get("TRAINER_WAIT_AT_END", "120"))
    with EvalClient(url) as client, EvalRun(client, ledger, poll_interval=0.05) as run:
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=RandomTokens(),
            processing_class=char_tokenizer() if evaluable else None,
        )
        callback = EvalCallback(run, submit=what, wait_at_end=wait_at_end).attach(trainer)
        trainer.train()
        evals = [
            entry
            for entry in trainer.state.log_history
            if any(k.startswith("eval/") for k in entry)
        ]
        print(json.dumps({"submitted": [job.key for job in callback.submitted], "evals": evals}))


if __name__ == "__main__":
    main()
