"""The service registration endpoints (Nomad's command/agent/service_registration_endpoint.go):
/v1/services, /v1/service/:name (``filter``, ``choose``, blocking), its DELETE, and the
job's /v1/job/:id/services."""

from __future__ import annotations

from nomadlab.practice import services
from nomadlab.practice.bexpr import FilterError
from nomadlab.practice.http.handler import Handler, Read, Request
from nomadlab.practice.http.job_endpoint import lookup_job
from nomadlab.practice.server import APIError


def services_list(req: Request) -> Read:
    namespace = req.namespace
    prefix = req.arg("prefix") or ""
    return Read((services.TABLE,), lambda: services.list_stubs(req.store, namespace, prefix))


def service_read(req: Request, name: str) -> Read:
    namespace = req.namespace
    filter_expr = req.arg("filter") or ""
    choose = req.arg("choose") or ""
    if filter_expr:
        try:
            services.apply_filter([], filter_expr)
        except FilterError as exc:
            raise APIError(
                400, f"failed to create result paginator: failed to read filter expression: {exc}"
            ) from exc

    def read() -> list[dict]:
        try:
            return services.by_name(req.store, namespace, name, filter_expr, choose)
        except FilterError as exc:
            prefix = (
                ""
                if choose and str(exc).startswith("failed to choose")
                else ("failed to read result page: ")
            )
            raise APIError(400, prefix + str(exc)) from exc

    return Read((services.TABLE,), read)


def service_delete(req: Request, _name: str, service_id: str) -> None:
    try:
        index = services.delete(req.store, req.namespace, service_id)
    except KeyError as exc:
        raise APIError(500, "service registration not found") from exc
    req.handler.set_header("X-Nomad-Index", str(index))  # Nomad answers with no body


def job_services(req: Request, job_id: str) -> Read:
    namespace = req.namespace

    def read() -> list[dict]:
        lookup_job(req, job_id)
        return services.by_job(req.store, namespace, job_id)

    return Read((services.TABLE, "jobs"), read)


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/services", {"GET": services_list}),
    (r"/v1/service/([^/]+)", {"GET": service_read}),
    (r"/v1/service/([^/]+)/([^/]+)", {"DELETE": service_delete}),
    (r"/v1/job/([^/]+)/services", {"GET": job_services}),
]
