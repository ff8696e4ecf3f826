"""Importance of each basic event to a top event, exact, from its BDD.

With P the top-event probability and p the event's probability (definitions as in SCRAM and
Rausand & Høyland, "System Reliability Theory", ch. 5):

- Birnbaum (marginal) importance ``I_B = P(top | e failed) - P(top | e working) = dP/dp``;
- Fussell-Vesely importance, the criticality importance ``I_FV = p * I_B / P`` (SCRAM's CIF):
  the share of the top-event probability that needs e;
- risk achievement worth ``RAW = P(top | e failed) / P``;
- risk reduction worth ``RRW = P / P(top | e working)`` (None when that is 0: infinite).

P is linear in p, so ``P(top | e failed) = P + (1 - p) I_B`` and ``P(top | e working) = P - p I_B``:
one pass over the BDD gives all four for every event.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from aftershock.analysis.bdd import FaultTreeBDD


@dataclass(frozen=True)
class EventImportance:
    """The four importance measures of one basic event."""

    event: str
    probability: float
    birnbaum: float
    fussell_vesely: float | None
    raw: float | None
    rrw: float | None


@dataclass
class ImportanceResult:
    """Importance of every basic event under a top event, most important (FV) first."""

    top_event: str
    probability: float
    events: list[EventImportance]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (see docs/reliability.md)."""
        return {"top_event": self.top_event, "probability": self.probability,
                "events": [asdict(e) for e in self.events]}


def importance(bdd: FaultTreeBDD) -> ImportanceResult:
    """Birnbaum, Fussell-Vesely, RAW and RRW of every basic event of the BDD's tree."""
    p = bdd.event_probabilities()
    top, mif = bdd.birnbaum(p)
    rows = []
    for v, event in enumerate(bdd.events):
        q, ib = float(p[v]), float(mif[v])
        failed = min(1.0, top + (1.0 - q) * ib)
        working = max(0.0, top - q * ib)
        rows.append(EventImportance(
            event=event,
            probability=q,
            birnbaum=ib,
            fussell_vesely=q * ib / top if top > 0 else None,
            raw=failed / top if top > 0 else None,
            rrw=top / working if working > 0 else None,
        ))
    rows.sort(key=lambda r: (-(r.fussell_vesely or 0.0), -r.birnbaum, r.event))
    return ImportanceResult(bdd.tree.top, top, rows)
