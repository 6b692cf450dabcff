"""The evaluation endpoints (command/agent/eval_endpoint.go)."""

from __future__ import annotations

from nomadlab.practice.http.handler import Handler, Read, Request, by_id, listing
from nomadlab.practice.http.stubs import by_alloc_id
from nomadlab.practice.structs.fields import complete


def evaluations_list(req: Request) -> Read:
    return listing(req, "evals", "Evaluation")


def evaluation_read(req: Request, eval_id: str) -> Read:
    return Read(("evals",), lambda: complete("Evaluation", by_id(req.store.evals, eval_id, "eval")))


def evaluation_allocations(req: Request, eval_id: str) -> Read:
    # By ID, as Nomad's eval index iterates them; each stub from the cache.
    return Read(
        ("allocs",),
        lambda: req.agent.alloc_stubs.encode(by_alloc_id(req.store.eval_allocs(eval_id))),
    )


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/evaluations", {"GET": evaluations_list}),
    (r"/v1/evaluation/([^/]+)", {"GET": evaluation_read}),
    (r"/v1/evaluation/([^/]+)/allocations", {"GET": evaluation_allocations}),
]
