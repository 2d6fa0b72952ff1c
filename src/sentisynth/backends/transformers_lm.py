"""Any causal LM through Hugging Face transformers (PyTorch).

``model`` is a hub id (``gpt2``, ``Qwen/Qwen2.5-0.5B-Instruct``; online users), a local
checkpoint folder, a ``.gguf`` file or an offline short name (``smollm2-135m``...). GGUF files are
loaded with ``AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)``, which dequantises
the weights to float32 (needs the ``gguf`` package; tens of seconds for a 100 MB file).

Chat uses the tokenizer's chat template when it has one, else a plain prompt made of the message
contents. Sampling is seeded per request (``torch.manual_seed(request.seed)`` under a lock), so a
request gives the same text every time on the same machine and versions. There is no
constrained decoding: ``supports_schema`` is False and callers validate JSON themselves.

:meth:`TransformersBackend.token_logprobs` scores texts in padded batches with an attention mask;
the text is preceded by the tokenizer's BOS token when it has one (so the first token is scored).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError, ResourceError
from .base import Backend, ChatRequest, Completion, register_backend


def _import_torch_transformers():
    try:
        import torch
        import transformers
    except ImportError as e:
        raise ResourceError(
            "the transformers backend needs torch and transformers; fix: pip install 'sentisynth[embed]' "
            "(and 'gguf' to load .gguf files)."
        ) from e
    return torch, transformers


@contextmanager
def torch_threads(n: int | None):
    """Use ``n`` torch CPU threads inside the block and restore the previous count after
    (the setting is process-wide); ``None`` leaves it alone."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n:
            torch.set_num_threads(before)


def publish_dir(target: Path, write: Any, ignore: tuple[type[BaseException], ...] = (OSError,)) -> None:
    """Write a folder whole or not at all: ``write(tmp)`` fills a temporary sibling folder, which
    then replaces ``target``. Errors in ``ignore`` (a full disk, a concurrent writer) leave no
    partial folder behind and are swallowed: the caller keeps working from memory."""
    import os
    import shutil
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        write(tmp)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except ignore:
        shutil.rmtree(tmp, ignore_errors=True)


def load_causal_lm(model: str, device: str | None = "cpu") -> tuple[Any, Any, Any]:
    """(tokenizer, model in eval mode, resolved model) for a hub id, folder, GGUF or short name.

    A GGUF file is dequantised by transformers (24-73 s for a 100 MB file here), so the result is
    saved once as a safetensors checkpoint next to the GGUF (``<cache>/models/hf/<name>-<sha12>``,
    written to a temporary folder and renamed) and loaded from there afterwards (about a second).
    """
    torch, transformers = _import_torch_transformers()
    from .models import resolve_model

    r = resolve_model(str(model))
    kwargs: dict[str, Any] = {}
    where: Any = r.path
    if str(r.format).lower() == "gguf":
        from ..paths import cache_dir

        converted = cache_dir() / "models" / "hf" / f"{r.name}-{(r.sha256 or 'nohash')[:12]}"
        if (converted / "config.json").exists():
            where = str(converted)
        else:
            p = Path(r.path)
            where, kwargs["gguf_file"] = str(p.parent), p.name
    try:
        tok = transformers.AutoTokenizer.from_pretrained(where, **kwargs)
        lm = transformers.AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **kwargs)
    except ImportError as e:
        raise ResourceError(f"loading {r.name} with transformers needs another package: {e}; fix: pip install gguf") from e
    except (OSError, ValueError) as e:
        msg = " ".join(str(e).split())[:300]
        raise ResourceError(f"transformers could not load model {r.name!r} from {r.path}: {msg}") from e
    if "gguf_file" in kwargs:
        # Dequantised weights are plain float32 tensors, but transformers still marks the model as
        # "gguf-quantised" and refuses to save it (or anything fine-tuned from it); unmark it.
        lm.hf_quantizer = None
        if hasattr(lm.config, "quantization_config"):
            del lm.config.quantization_config
    if "gguf_file" in kwargs and r.sha256:
        def write(tmp: Path) -> None:
            lm.save_pretrained(tmp, safe_serialization=True)
            tok.save_pretrained(tmp)

        # another process won the race, disk full, unsavable: the GGUF still works
        publish_dir(converted, write, ignore=(OSError, ValueError))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    lm.to(device).eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token if tok.eos_token is not None else tok.convert_ids_to_tokens(0)
    return tok, lm, r


@register_backend("transformers")
class TransformersBackend(Backend):
    """A causal LM run by transformers on CPU or GPU.

    Parameters
    ----------
    model : hub id, local folder, ``.gguf`` path or offline short name.
    device : ``"cpu"``, ``"cuda"``, ``"cuda:0"``... (``None`` = cuda when available, else cpu).
    batch_size : texts per forward pass in :meth:`token_logprobs`.
    max_length : texts are truncated to this many tokens when scored.
    n_threads : torch CPU threads while this backend computes (``None`` = torch's default). Set
        only for the duration of each call and restored after, since it is process-wide. On a busy
        CPU fewer threads can be much faster (2 threads on 2 shared cores measured 10-25x slower
        than 1).
    """

    supports_schema = False

    def __init__(
        self,
        model: str = "smollm2-135m",
        device: str | None = "cpu",
        batch_size: int = 16,
        max_length: int = 512,
        n_threads: int | None = None,
    ):
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.n_threads = n_threads
        self._resolved: Any = None
        self._lm: Any = None
        self._tok: Any = None
        self._lock = threading.Lock()

    def _check_params(self) -> None:
        for name in ("batch_size", "max_length"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"The '{name}' parameter of TransformersBackend must be a positive int; got {v!r} instead.")
        v = self.n_threads
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ConfigError(f"The 'n_threads' parameter of TransformersBackend must be a positive int or None; got {v!r} instead.")

    @contextmanager
    def _compute(self):
        """Hold the lock, disable autograd and apply ``n_threads`` for one call."""
        import torch

        with self._lock, torch.no_grad(), torch_threads(self.n_threads):
            yield

    def resolved(self) -> Any:
        if self._resolved is None:
            from .models import resolve_model

            self._resolved = resolve_model(str(self.model))
        return self._resolved

    def identity(self) -> dict[str, Any]:
        r = self.resolved()
        return {"backend": self.name, "model": r.name, "format": r.format, "sha256": r.sha256}

    def load(self) -> "TransformersBackend":
        self._check_params()
        if self._lm is not None:
            return self
        self._tok, self._lm, self._resolved = load_causal_lm(self.model, self.device)
        self._device = self._lm.device
        return self

    def close(self) -> None:
        self._lm = self._tok = None

    # -- chat --------------------------------------------------------------------------------------
    def _prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        from .base import break_control_markers

        tok = self._tok
        # The tokenizer parses its special tokens inside message text: break any that data carries.
        pieces = set(getattr(tok, "all_special_tokens", []) or []) | {
            t.content for t in (getattr(tok, "added_tokens_decoder", {}) or {}).values() if getattr(t, "special", False)}
        messages = [{**m, "content": break_control_markers(m.get("content") or "", pieces)} for m in messages]
        if getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):  # BatchEncoding in some versions
                ids = ids["input_ids"]
            return list(ids)
        text = "\n\n".join(m.get("content") or "" for m in messages)
        return tok(text)["input_ids"]

    def chat(self, request: ChatRequest) -> Completion:
        if self._lm is None:
            self.load()
        import torch

        tok, lm = self._tok, self._lm
        ids = self._prompt_ids(request.messages)
        input_ids = torch.tensor([ids], device=self._device)
        sample = request.temperature > 0
        gen_kwargs: dict[str, Any] = dict(
            max_new_tokens=request.max_tokens,
            do_sample=sample,
            pad_token_id=tok.pad_token_id,
        )
        if sample:
            gen_kwargs.update(temperature=float(request.temperature), top_p=float(request.top_p), top_k=0)
        if request.stop:
            gen_kwargs.update(stop_strings=list(request.stop), tokenizer=tok)
        with self._compute():
            torch.manual_seed(int(request.seed))
            out = lm.generate(input_ids, attention_mask=torch.ones_like(input_ids), **gen_kwargs)
        new = out[0, len(ids):].tolist()
        n_generated = len(new)
        eos = tok.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
        finish = "length"
        if new and new[-1] in eos_ids:
            new, finish = new[:-1], "stop"
        text = tok.decode(new, skip_special_tokens=True)
        for s in request.stop or []:
            i = text.find(s)
            if i >= 0:
                text, finish = text[:i], "stop"
        return Completion(text=text, prompt_tokens=len(ids), completion_tokens=n_generated, finish_reason=finish)

    # -- scoring -----------------------------------------------------------------------------------
    def choice_logprobs(self, prompts: Sequence[list[dict[str, str]]], choices: Sequence[str]) -> list[list[float]]:
        if self._lm is None:
            self.load()
        import torch

        from .base import distinct_first_tokens

        tok, lm = self._tok, self._lm
        ids = distinct_first_tokens(choices, lambda c: tok(c, add_special_tokens=False)["input_ids"][0])
        out: list[list[float]] = []
        with self._compute():
            for messages in prompts:
                prompt = torch.tensor([self._prompt_ids(messages)[-self.max_length:]], device=self._device)
                lp = torch.log_softmax(lm(input_ids=prompt).logits[0, -1].float(), dim=-1)
                out.append([float(lp[t]) for t in ids])
        return out

    def token_logprobs(self, texts: Sequence[str]) -> list[list[float]]:
        if self._lm is None:
            self.load()
        import torch

        tok, lm = self._tok, self._lm
        bos = tok.bos_token_id
        prefix = [bos] if bos is not None else []
        seqs = []
        for t in texts:
            ids = tok(t, add_special_tokens=False)["input_ids"]
            seqs.append((prefix + list(ids))[: self.max_length])
        out: list[list[float]] = [[] for _ in seqs]
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths → less padding
        pad = tok.pad_token_id
        with self._compute():
            for start in range(0, len(order), self.batch_size):
                idx = [i for i in order[start : start + self.batch_size] if len(seqs[i]) >= 2]
                if not idx:
                    continue
                width = max(len(seqs[i]) for i in idx)
                ids = torch.full((len(idx), width), pad, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    ids[row, : len(seqs[i])] = torch.tensor(seqs[i])
                    mask[row, : len(seqs[i])] = 1
                ids, mask = ids.to(self._device), mask.to(self._device)
                logits = lm(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
                lp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
                for row, i in enumerate(idx):
                    out[i] = lp[row, : len(seqs[i]) - 1].cpu().tolist()
        return out
