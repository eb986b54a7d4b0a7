"""Prompt encoding with pseudo-words: ``a photo of a model wearing {cat} $ $ ... $`` whose 16
``$`` token embeddings are replaced by the inversion adapter's vectors before the text
transformer runs (positions, causal self-attention, final layer norm)."""

from __future__ import annotations

import torch
from transformers import CLIPTextModel, CLIPTokenizer
from transformers.masking_utils import create_causal_mask

PLACEHOLDER = "$"
CATEGORY_TEXT = {
    "dresses": "a dress",
    "upper_body": "an upper body garment",
    "lower_body": "a lower body garment",
}


def prompt_for(category: str, words: int) -> str:
    if category not in CATEGORY_TEXT:
        raise ValueError(f"unknown category {category!r}; expected one of {', '.join(CATEGORY_TEXT)}")
    return f"a photo of a model wearing {CATEGORY_TEXT[category]} " + " ".join([PLACEHOLDER] * words)


def tokenize(tokenizer: CLIPTokenizer, texts: list[str]) -> torch.Tensor:
    return tokenizer(
        texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids


def placeholder_id(tokenizer: CLIPTokenizer) -> int:
    ids = tokenizer(PLACEHOLDER, add_special_tokens=False).input_ids
    if len(ids) != 1:
        raise ValueError(f"the tokenizer splits {PLACEHOLDER!r} into {len(ids)} tokens; it must be one")
    return ids[0]


def encode_embeddings(text_encoder: CLIPTextModel, token_embeddings: torch.Tensor) -> torch.Tensor:
    """(B, 77, D) token embeddings -> (B, 77, D) last hidden state, as the text encoder computes
    it from ids (positions added, causal mask, final layer norm)."""
    hidden = text_encoder.embeddings(inputs_embeds=token_embeddings)
    mask = create_causal_mask(config=text_encoder.config, inputs_embeds=hidden, attention_mask=None, past_key_values=None)
    hidden = text_encoder.encoder(inputs_embeds=hidden, attention_mask=mask, is_causal=True).last_hidden_state
    return text_encoder.final_layer_norm(hidden)


def encode_with_pseudo_words(
    text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer, categories: list[str], words: torch.Tensor
) -> torch.Tensor:
    """(B, n, D) pseudo-word vectors -> (B, 77, D) prompt embeddings, one prompt per category."""
    if words.shape[0] != len(categories):
        raise ValueError(f"{words.shape[0]} pseudo-word sets for {len(categories)} prompts")
    n = words.shape[1]
    ids = tokenize(tokenizer, [prompt_for(c, n) for c in categories]).to(words.device)
    embeddings = text_encoder.embeddings.token_embedding(ids)
    marker = placeholder_id(tokenizer)
    for row in range(ids.shape[0]):
        first = int((ids[row] == marker).nonzero()[0, 0])
        embeddings[row, first : first + n] = words[row].to(embeddings.dtype)
    return encode_embeddings(text_encoder, embeddings)


def encode_empty(text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer, batch: int, device: torch.device) -> torch.Tensor:
    """The unconditional prompt (the empty string), repeated ``batch`` times."""
    ids = tokenize(tokenizer, [""]).to(device)
    return text_encoder(input_ids=ids).last_hidden_state.expand(batch, -1, -1)
