"""The embedding model of topic rules (``about:``): texts in, unit vectors out.

A topic rule matches a story by the cosine similarity of two vectors: its description's and
the story's (:func:`story_text`: the title and the start of the text). Vectors are rows of
float32, L2-normalised, so a similarity is one dot product and thousands of rules are one
matrix product::

    model = load_model()
    rules = model.embed(["export controls on rare earths", "heat waves in Europe"])
    story = model.embed([story_text(title, text)])
    scores = rules @ story[0]            # one similarity per rule, in [-1, 1]

The default model is WordLlama's ``l2_supercat`` at 256 dimensions, whose weights and
tokenizer ship inside the ``wordllama`` wheel (the ``topics`` extra): both files are read
from the installed package, never downloaded (wordllama's own loader looks for the tokenizer
in another folder and falls back to huggingface.co, so it is not used; nor is the package
imported, as its import configures the root logger). A story's vector is the mean of its
tokens' vectors, which costs a table lookup per token: no neural network runs.

Pure apart from reading the model's two files once per process (:func:`load_model` keeps
what it loaded).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from monitor.errors import TopicModelError

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: the model ``load_model()`` gives when no name is asked for
DEFAULT_MODEL = "wordllama-l2-256"
#: how a user installs what topic rules need
EXTRA_HINT = "pip install 'newsmonitor[topics]'"
#: of the story's text, this many characters after the title go into its vector: the lead
#: says what a story is about; the rest dilutes a mean of word vectors (see docs/rules.md,
#: "Topic rules", for the calibration)
STORY_TEXT_CHARS = 1000
#: a description or a story longer than this is cut before tokenising (bounded cost)
MAX_EMBED_CHARS = 4000
_SPACE = re.compile(r"\s+")


class EmbeddingModel(Protocol):
    """A text embedding: ``embed`` turns texts into rows of float32, each of length 1 (or all
    zeros for a text without a single known token), ``dim`` columns."""

    @property
    def name(self) -> str:
        """The model's name (what :func:`load_model` takes)."""
        ...

    @property
    def dim(self) -> int:
        """The length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One L2-normalised float32 row per text, in order (shape ``(len(texts), dim)``)."""
        ...


def story_text(title: str, text: str) -> str:
    """What a story is judged by: its title, then the first :data:`STORY_TEXT_CHARS`
    characters of its text, cut at a word boundary, white space collapsed. The title is
    not repeated when the text starts with it."""
    title = _SPACE.sub(" ", title).strip()
    body = _SPACE.sub(" ", text[: STORY_TEXT_CHARS * 2]).strip()
    if title and body.startswith(title):
        body = body[len(title):].lstrip(" .:-")
    if len(body) > STORY_TEXT_CHARS:
        cut = body.rfind(" ", 0, STORY_TEXT_CHARS + 1)
        body = body[: cut if cut > STORY_TEXT_CHARS // 2 else STORY_TEXT_CHARS]
    if not title:
        return body
    if not body:
        return title
    return f"{title}. {body}" if title[-1] not in ".!?:" else f"{title} {body}"


@dataclass(frozen=True)
class _TokenMeanModel:
    """Mean of static token vectors (WordLlama, Model2Vec): a lookup table and a tokenizer."""

    name: str
    table: NDArray[np.float32]
    encode: Callable[[list[str]], list[list[int]]]

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids_of = self.encode([t[:MAX_EMBED_CHARS] for t in texts])
        lengths = np.fromiter((len(ids) for ids in ids_of), dtype=np.int64, count=len(ids_of))
        filled = np.flatnonzero(lengths)
        if filled.size:
            flat = np.fromiter((i for ids in ids_of for i in ids), dtype=np.int64, count=int(lengths.sum()))
            np.clip(flat, 0, self.table.shape[0] - 1, out=flat)
            starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))[filled]
            # the sum of each text's token rows; the mean has the same direction
            out[filled] = np.add.reduceat(self.table[flat], starts, axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


def _wordllama_dir() -> Path:
    # looked up by a literal name: the compiled-rule cache's digest lists the versions of the
    # packages the rules package finds this way (daemon/rulecache.py), and the rule vectors
    # it stores depend on this one
    return _package_dir("wordllama", importlib.util.find_spec("wordllama"))


def _package_dir(package: str, spec: importlib.machinery.ModuleSpec | None) -> Path:
    """The folder of an installed package, found without importing it."""
    if spec is None or not spec.submodule_search_locations:
        raise TopicModelError(f"topic rules need the {package!r} package, which is not installed: {EXTRA_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def _load_wordllama_l2_256() -> EmbeddingModel:
    root = _wordllama_dir()
    weights = root / "weights" / "l2_supercat_256.safetensors"
    tokenizer_file = root / "tokenizers" / "l2_supercat_tokenizer_config.json"
    for path in (weights, tokenizer_file):
        if not path.is_file():
            raise TopicModelError(f"the installed wordllama package has no {path.name} (looked in {path.parent}); "
                                  f"reinstall it: {EXTRA_HINT}")
    try:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise TopicModelError(f"topic rules need {exc.name!r}: {EXTRA_HINT}") from None
    table = np.ascontiguousarray(load_file(str(weights))["embedding.weight"], dtype=np.float32)
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def encode(texts: list[str]) -> list[list[int]]:
        return [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]

    return _TokenMeanModel(DEFAULT_MODEL, table, encode)


#: the models ``load_model`` knows, by name
MODELS: dict[str, Callable[[], EmbeddingModel]] = {
    DEFAULT_MODEL: _load_wordllama_l2_256,
}
_loaded: dict[str, EmbeddingModel] = {}
_lock = threading.Lock()


def load_model(name: str | None = None) -> EmbeddingModel:
    """The embedding model ``name`` (default :data:`DEFAULT_MODEL`), loaded once per process
    from files inside an installed package; nothing is downloaded.

    Raises :class:`~monitor.errors.TopicModelError` when the name is unknown or the package
    that carries the model (the ``topics`` extra) is not installed.
    """
    name = name or DEFAULT_MODEL
    with _lock:
        model = _loaded.get(name)
        if model is None:
            loader = MODELS.get(name)
            if loader is None:
                raise TopicModelError(f"unknown embedding model {name!r}; known: {', '.join(sorted(MODELS))}")
            model = _loaded[name] = loader()
        return model


def available(name: str | None = None) -> bool:
    """Whether the packages model ``name`` needs are installed (nothing is loaded)."""
    try:
        _wordllama_dir()
    except TopicModelError:
        return False
    needed = (importlib.util.find_spec("tokenizers"), importlib.util.find_spec("safetensors"))
    return all(spec is not None for spec in needed) and (name or DEFAULT_MODEL) in MODELS
