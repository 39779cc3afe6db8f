"""Named retrieval recipes: every knob of the read path in one pydantic config, looked up by name.

A run's retrieval configuration is one string (``full``, ``no-graph``…), so the evaluation harness
can loop over recipes and report an ablation: each ``no-*`` recipe switches one mechanism of
``full`` off, each ``with-*`` recipe switches one on.

``full`` reads every granularity except the reflector's insights and personas: on the LoCoMo dev
file they cost recall at every budget measured (250 to 2000 tokens; README, Evaluation), so they
are read only by the ``with-*`` recipes that ask for them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from memory.errors import InvalidInputError
from memory.model import Granularity

__all__ = ["RECIPES", "Recipe", "get_recipe"]

_ALL = frozenset(Granularity)
_REFLECTION = frozenset({Granularity.INSIGHT, Granularity.PERSONA})


class Recipe(BaseModel):
    """How the retriever finds, fuses and packs candidates."""

    model_config = ConfigDict(frozen=True)

    name: str
    dense: bool = True
    """Candidates by embedding similarity (the native index)."""
    lexical: bool = True
    """Candidates by BM25 over unit texts."""
    graph: bool = True
    """Candidates by personalized PageRank over the hypergraph, seeded by entities and hits."""
    router: bool = True
    """Weight granularities by the entropy of their score distributions (MemGAS-style)."""
    iterative: bool = True
    """Let the judge send a refined query back to the retriever while evidence is insufficient."""
    temporal: bool = True
    """Favour units dated inside the time the question names."""
    dedupe_provenance: bool = True
    """Represent each source turn once: skip a unit whose source turns are all packed already."""
    context_share: float = 0.3
    """Share of a turn's score passed to the turns just before and after it (0: off)."""
    reply_share: float = 1.0
    """A turn answering a question (the next turn, by someone else, after a turn that ends
    asking) scores at least this share of the question's score (0: off)."""
    question_keep: float = 0.85
    """Score factor of a turn that ends asking a question someone answers next (1: off), so
    the answer ranks before the question it answers."""
    speaker_boost: float = 1.5
    """Score factor for units spoken by a person the question names (1: off). A question about
    someone is mostly answered by what they said themselves ("What activities does Melanie do?")."""
    when_boost: float = 1.3
    """Score factor, on questions asking when, for units whose text places something in time
    (1: off)."""
    current_first: bool = True
    """Put first the current facts holding the attribute a present-tense question asks about,
    e.g. where someone lives now (:mod:`agents.retrieval.current`)."""
    recency: float = 0.0
    """Favour newer units on questions about the present (:mod:`agents.retrieval.decay`). Off:
    on LoCoMo and on the small scenarios it cost MRR (recipe ``with-recency``)."""
    access: float = 0.0
    """Favour units that recalls return often (:mod:`agents.retrieval.decay`). Off, for the same
    reason (recipe ``with-access``)."""
    rerank_head: int = 40
    """How many units the learned re-ranker moves to the front (0: off;
    :mod:`agents.retrieval.rerank`). On LoCoMo conversations left out of its training it lifted
    MRR and recall at 250 tokens (README, Evaluation). 40 (a little more than 1,000 tokens hold),
    not 20: with the ``session_company`` feature, moving 20 cost recall at 1,000 tokens, and
    with ``token_cost`` short units from past the first 30 earn their place."""
    rerank_lead: int = 5
    """How many of the re-ranker's most probable units lead the head in order of probability
    alone, before ``token_cost`` orders the rest."""
    token_cost: float = 0.3
    """How much a unit's length counts against it in the re-ranked head after the lead: units
    follow by log P(answers) - token_cost x log(tokens) (0: by probability alone). The evidence
    is cut at a token budget; on LoCoMo conversations left out of the model's training every
    cost from 0.2 to 0.5 lifted recall at 250 and 1,000 tokens (README, Evaluation)."""
    rerank_pool: int = 100
    """How many of the best candidates the re-ranker scores."""
    granularities: frozenset[Granularity] = _ALL - _REFLECTION
    """Granularities read; by default not the reflector's insights and personas (see above)."""
    pool: int = 60
    """Candidates taken from each source per iteration."""
    rrf_k: float = 60.0
    score_share: float = 0.7
    """Share of each source's contribution to fusion that comes from its min-max normalised
    score rather than its reciprocal rank (0: plain reciprocal-rank fusion). Ranks alone lose
    how far ahead a clear best match is; on the LoCoMo dev file every share from 0.45 to 0.8
    lifted MRR by 0.026-0.034 (README, Evaluation); 1.0 (scores alone) cost recall at 1000
    tokens."""
    dense_weight: float = 1.0
    topic_weight: float = 0.7
    """Weight of the ``topic`` source: the dense index searched with the query's names common
    in the namespace (its speakers, typically) removed (0: off; :mod:`agents.retrieval.topic`).
    On the LoCoMo dev file it lifted recall at 1000 tokens in three categories of four and MRR
    (README, Evaluation)."""
    lexical_weight: float = 1.0
    graph_weight: float = 0.6
    iteration_decay: float = 0.95
    """Weight of iteration i's ranking in the fusion across iterations: decay**i."""


_FULL = Recipe(name="full")
RECIPES: dict[str, Recipe] = {
    "full": _FULL,
    "no-graph": _FULL.model_copy(update={"name": "no-graph", "graph": False}),
    "no-lexical": _FULL.model_copy(update={"name": "no-lexical", "lexical": False}),
    "no-dense": _FULL.model_copy(update={"name": "no-dense", "dense": False}),
    "no-router": _FULL.model_copy(update={"name": "no-router", "router": False}),
    "no-iteration": _FULL.model_copy(update={"name": "no-iteration", "iterative": False}),
    "no-temporal": _FULL.model_copy(update={"name": "no-temporal", "temporal": False}),
    "no-facts": _FULL.model_copy(
        update={"name": "no-facts", "granularities": _FULL.granularities - {Granularity.FACT}}
    ),
    "no-dedupe": _FULL.model_copy(update={"name": "no-dedupe", "dedupe_provenance": False}),
    "no-context": _FULL.model_copy(update={"name": "no-context", "context_share": 0.0}),
    "no-replies": _FULL.model_copy(
        update={"name": "no-replies", "reply_share": 0.0, "question_keep": 1.0}
    ),
    "no-score-fusion": _FULL.model_copy(update={"name": "no-score-fusion", "score_share": 0.0}),
    "no-topic": _FULL.model_copy(update={"name": "no-topic", "topic_weight": 0.0}),
    "no-when-boost": _FULL.model_copy(update={"name": "no-when-boost", "when_boost": 1.0}),
    "no-speaker": _FULL.model_copy(update={"name": "no-speaker", "speaker_boost": 1.0}),
    "no-current": _FULL.model_copy(update={"name": "no-current", "current_first": False}),
    "no-rerank": _FULL.model_copy(update={"name": "no-rerank", "rerank_head": 0}),
    "no-token-cost": _FULL.model_copy(update={"name": "no-token-cost", "token_cost": 0.0}),
    "with-recency": _FULL.model_copy(update={"name": "with-recency", "recency": 0.1}),
    "with-access": _FULL.model_copy(update={"name": "with-access", "access": 0.05}),
    "with-insights": _FULL.model_copy(
        update={
            "name": "with-insights",
            "granularities": _FULL.granularities | {Granularity.INSIGHT},
        }
    ),
    "with-personas": _FULL.model_copy(
        update={
            "name": "with-personas",
            "granularities": _FULL.granularities | {Granularity.PERSONA},
        }
    ),
    "with-reflection": _FULL.model_copy(update={"name": "with-reflection", "granularities": _ALL}),
    "turns-only": _FULL.model_copy(
        update={"name": "turns-only", "granularities": frozenset({Granularity.TURN})}
    ),
}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; an unknown name lists the known ones."""
    try:
        return RECIPES[name]
    except KeyError:
        known = ", ".join(sorted(RECIPES))
        raise InvalidInputError(f"unknown retrieval recipe {name!r}; known: {known}") from None
