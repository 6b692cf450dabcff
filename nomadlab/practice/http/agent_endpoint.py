"""The agent, status, region and namespace endpoints (Nomad's command/agent/
agent_endpoint.go, status_endpoint.go, region_endpoint.go, namespace_endpoint.go)."""

from __future__ import annotations

from nomadlab.practice import structs
from nomadlab.practice.client.hoststats import host_stats
from nomadlab.practice.http.handler import Handler, Request
from nomadlab.practice.server import APIError
from nomadlab.practice.structs.fields import complete


def agent_self(req: Request) -> dict:
    return complete("AgentSelf", req.agent.self_info())


def agent_members(req: Request) -> dict:
    return {
        "ServerName": req.agent.node_name,
        "ServerRegion": structs.REGION,
        "ServerDC": structs.DATACENTER,
        "Members": [req.agent.member()],
    }


def agent_servers(req: Request) -> list[str]:
    """The servers this agent's client knows: the dev agent's own RPC address."""
    return [req.agent.rpc_addr]


def client_stats(req: Request) -> dict:
    """``GET /v1/client/stats``: the host's HostStats (``?node_id=`` may name a node)."""
    node_id = req.arg("node_id") or ""
    if node_id and not any(c.node["ID"].startswith(node_id) for c in req.agent.clients):
        raise APIError(404, "Unknown node")
    return complete("HostStats", host_stats(req.agent.data_dir))


def agent_health(req: Request) -> dict:
    return {"client": {"ok": True, "message": "ok"}, "server": {"ok": True, "message": "ok"}}


def status_leader(req: Request) -> str:
    return req.agent.rpc_addr


def status_peers(req: Request) -> list[str]:
    return [req.agent.rpc_addr]


def regions(req: Request) -> list[str]:
    return [structs.REGION]


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/agent/self", {"GET": agent_self}),
    (r"/v1/agent/members", {"GET": agent_members}),
    (r"/v1/agent/servers", {"GET": agent_servers}),
    (r"/v1/client/stats", {"GET": client_stats}),
    (r"/v1/agent/health", {"GET": agent_health}),
    (r"/v1/status/leader", {"GET": status_leader}),
    (r"/v1/status/peers", {"GET": status_peers}),
    (r"/v1/regions", {"GET": regions}),
]
