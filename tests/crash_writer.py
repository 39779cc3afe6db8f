"""A writer process for the crash test: writes batches of turns and derived facts until killed.

Prints ``open`` once the store is open, then ``journaled <batch>`` (flushed) after each batch of
turns reaches the journal, so the test knows which turns must survive whatever happens next.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from memory.embeddings import HashingEmbedder
from memory.model import Granularity, Namespace, Turn, make_unit
from memory.store import MemoryStore


def main(data_dir: str, first_batch: int) -> None:
    ns = Namespace(user_id="crash")
    when = datetime(2023, 5, 8, tzinfo=UTC)
    with MemoryStore.open(data_dir, embedder=HashingEmbedder()) as store:
        print("open", flush=True)
        for batch in range(first_batch, first_batch + 10_000):
            turns = [
                Turn(
                    id=f"B{batch}:{i}",
                    session_id=f"S{batch}",
                    speaker="Sam",
                    session_time=when,
                    text=f"In batch {batch} turn {i} Sam talks about topic {batch * 7 + i}.",
                    index=i,
                )
                for i in range(5)
            ]
            store.record_turns(ns, turns)
            print(f"journaled {batch}", flush=True)
            store.add_units(ns, [_turn_unit(ns, t) for t in turns])
            facts = [
                make_unit(
                    ns,
                    Granularity.FACT,
                    f"Sam mentioned topic {batch * 7 + i}",
                    provenance=[t.id],
                    entities=("Sam", f"topic {batch * 7 + i}"),
                )
                for i, t in enumerate(turns)
            ]
            store.add_units(ns, facts)


def _turn_unit(ns: Namespace, turn: Turn):  # type: ignore[no-untyped-def]
    from memory.store import turn_unit

    return turn_unit(ns, turn, entities=("Sam",))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
