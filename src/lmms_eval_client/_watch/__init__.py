"""Evaluating checkpoints as training writes them: a watcher of a folder, a trainer callback.

``readiness`` says when a checkpoint folder is complete, ``submission`` what is submitted for
one (and under which key, so nothing is submitted twice), ``watcher`` polls a folder and
``callback`` (the ``hf`` extra, imported only through ``lmms_eval_client.hf``) submits from
inside a ``transformers.Trainer``.
"""
