"""The model class of ``trainer_script.py``'s evaluable checkpoints: GPT-2 with its LM head,
registered for ``AutoModel`` so each checkpoint carries this file and an ``auto_map``.

Why: lmms-eval 0.7.3's ``huggingface`` model picks its auto class by testing
``config.model_type in AutoModelForCausalLM._model_mapping.keys()``, but those keys are
config classes (transformers 5), so every text-only checkpoint falls to ``AutoModel``, which
loads GPT-2 without its LM head (no ``generate``). With ``trust_remote_code=True`` in
model_args, ``AutoModel`` follows the ``auto_map`` to this class. Copied into checkpoints
and imported by the real server's evaluation: keep it free of anything but transformers.
"""

from transformers import GPT2LMHeadModel


class LaneLM(GPT2LMHeadModel):
    """GPT-2 with its LM head, found through ``AutoModel``."""


LaneLM.register_for_auto_class("AutoModel")
