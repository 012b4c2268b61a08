"""Pooling and prompt formatting shared by the native multimodal (VLM) embedders.

A decoder-only embedder turns one Content into one token sequence (a chat turn with the
content's text, image, video and audio placeholders in order) and reads one vector off the
final hidden states: the last real token (Qwen3-VL-Embedding, GME) or the mean over real
tokens (omni-embed-nemotron). Padding may be on either side; the attention mask says which
positions are real.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# Documents (and calls without a task) get the model family's generic instruction; a task type
# gets a specific one, in the system turn of the chat. Qwen3-VL-Embedding's generic instruction
# and retrieval-query instruction are the ones its model card uses; GME's generic one is Qwen's
# stock system prompt.
DEFAULT_INSTRUCTION = "Represent the user's input."  # Qwen3-VL-Embedding
GME_DEFAULT_INSTRUCTION = "You are a helpful assistant."  # GME (Qwen2-VL)
TASK_INSTRUCTIONS: dict[str, str] = {
    "RETRIEVAL_QUERY": "Retrieve images or text relevant to the user's query.",
    "RETRIEVAL_DOCUMENT": DEFAULT_INSTRUCTION,
    "SEMANTIC_SIMILARITY": "Retrieve inputs that are semantically similar to the user's input.",
    "CLASSIFICATION": "Classify the user's input by its topic.",
    "CLUSTERING": "Identify the main topic of the user's input.",
    "QUESTION_ANSWERING": "Retrieve passages, images or videos that answer the user's question.",
    "FACT_VERIFICATION": "Retrieve evidence that supports or refutes the user's claim.",
    "CODE_RETRIEVAL_QUERY": "Retrieve code that does what the user's query describes.",
}

# omni-embed-nemotron's E5-style prefixes: the first text of the user turn.
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
QUERY_TASKS = frozenset(TASK_INSTRUCTIONS) - {"RETRIEVAL_DOCUMENT"}


def instruction_for(task: str | None, default: str = DEFAULT_INSTRUCTION) -> str:
    """The system-turn instruction for a (checked) task type; documents and None get ``default``."""
    if task is None or task == "RETRIEVAL_DOCUMENT":
        return default
    return TASK_INSTRUCTIONS.get(task, default)


def prefix_for(task: str | None) -> str:
    """The omni-embed-nemotron prefix: queries (any task but documents) vs passages."""
    return QUERY_PREFIX if task in QUERY_TASKS else PASSAGE_PREFIX


def last_token_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The hidden state of each row's last real token, for left or right padding.

    Args:
        hidden: (N, T, D) final hidden states.
        mask: (N, T) attention mask, 1 on real tokens.

    Returns:
        (N, D) pooled states.
    """
    import torch

    t = mask.shape[1]
    last = t - 1 - torch.flip(mask, dims=[1]).to(torch.long).argmax(dim=1)  # (N,) index of the last 1
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]  # (N, T, D) -> (N, D)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the hidden states over real tokens. (N, T, D), (N, T) -> (N, D)."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)  # (N, T, 1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
