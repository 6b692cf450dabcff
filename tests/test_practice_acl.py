"""ACLs in the practice agent, through python-nomad and plain HTTP: ``nomad acl bootstrap``,
``nomad acl token self``, and every protected route refusing a request without the token,
with the status and text Nomad's HTTP agent sends."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import nomad
import pytest
import requests
from nomad.api.exceptions import BadRequestNomadException, URLNotAuthorizedNomadException

from nomadlab.practice import Agent
from nomadlab.practice.http import ROUTES

UNKNOWN = "00000000-0000-4000-8000-000000000000"

# What Nomad 1.9.7 leaves open with ACLs on: HealthRequest, Status.Leader, Status.Peers and
# Region.List check no token; ACL.Bootstrap and ACL.ResolveToken look the secret up themselves.
OPEN = {
    "/v1/agent/health",
    "/v1/status/leader",
    "/v1/status/peers",
    "/v1/regions",
    "/v1/acl/bootstrap",
    "/v1/acl/token/self",
}
# Where Nomad resolves the secret with ResolveToken (the HTTP agent's for agent/self and
# jobs/parse, the client's for /v1/client/... and agent/servers) rather than the server's
# Authenticate: an unknown secret is then "ACL token not found", not "Permission denied".
RESOLVED = re.compile(r"/v1/(agent/self|agent/servers|jobs/parse|client/.+)")


@pytest.fixture(scope="module")
def acl_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """An agent started with ``-acl-enabled`` and not yet bootstrapped."""
    with Agent(
        http_port=None, log_file=tmp_path_factory.mktemp("acl") / "agent.log", acl=True
    ) as running:
        yield running


def concrete(pattern: str) -> str:
    """A path the route ``pattern`` serves: each outermost group stands for an ID."""
    path, depth = "", 0
    for char in pattern:
        if char == "(":
            path += "example" if depth == 0 else ""
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0:
            path += char
    assert re.fullmatch(pattern, path), (pattern, path)
    return path


def test_the_agent_bootstraps_once_and_says_so_the_second_time(acl_agent: Agent) -> None:
    """Follows nomad/acl_endpoint_test.go TestACLEndpoint_Bootstrap: one management token
    named "Bootstrap Token", global, with a create time; the token self lookup returns the
    same token. The second bootstrap gets Nomad's 400 naming the reset index. (The fixture's
    helper bootstrapped it; the one before every test here is the second.)"""
    client = nomad.Nomad(address=acl_agent.address, token=acl_agent.token, timeout=10)
    token = client.acl.get_self_token()
    assert token["Name"] == "Bootstrap Token"
    assert token["Type"] == "management"
    assert token["Global"] is True
    assert token["SecretID"] == acl_agent.token
    assert uuid.UUID(token["AccessorID"]) and token["AccessorID"] != token["SecretID"]
    assert token["CreateTime"] and token["ExpirationTime"] is None
    assert token["Policies"] is None and token["Roles"] is None
    assert token["CreateIndex"] == token["ModifyIndex"] > 0
    # ACLToken.SetHash: BLAKE2b-256 over name, type, policies (none) and "global".
    digest = hashlib.blake2b(b"Bootstrap Tokenmanagementglobal", digest_size=32).digest()
    assert base64.b64decode(token["Hash"]) == digest
    assert list(token) == [
        "AccessorID", "SecretID", "Name", "Type", "Policies", "Roles", "Global", "Hash",
        "CreateTime", "ExpirationTime", "ExpirationTTL", "CreateIndex", "ModifyIndex",
    ]  # fmt: skip

    anyone = nomad.Nomad(address=acl_agent.address, timeout=10)
    with pytest.raises(BadRequestNomadException) as again:
        anyone.acl.generate_bootstrap()
    assert again.value.nomad_resp.status_code == 400
    assert again.value.nomad_resp.text == (
        f"ACL bootstrap already done (reset index: {token['CreateIndex']})"
    )


def test_a_bootstrap_secret_becomes_the_tokens_secret(tmp_path: Path) -> None:
    """Follows TestACLEndpoint_BootstrapOperator: ``nomad acl bootstrap <file>`` sends a
    BootstrapSecret, which the token then has; a secret that is not a UUID is refused first
    (Nomad's "invalid acl token"), and the agent can still be bootstrapped after."""
    with Agent(http_port=None, log_file=tmp_path / "agent.log") as agent:
        disabled = requests.post(f"{agent.address}/v1/acl/bootstrap", timeout=10)
        self_token = requests.get(f"{agent.address}/v1/acl/token/self", timeout=10)
    assert (disabled.status_code, disabled.text) == (400, "ACL support disabled")
    assert (self_token.status_code, self_token.text) == (400, "ACL support disabled")

    with Agent(http_port=None, log_file=tmp_path / "acl.log", acl=True, bootstrap=False) as agent:
        url = f"{agent.address}/v1/acl/bootstrap"
        bad = requests.post(url, json={"BootstrapSecret": "not-a-uuid"}, timeout=10)
        wrong = requests.post(url, json={"BootstrapSecret": 7}, timeout=10)
        secret = str(uuid.uuid4())
        made = requests.put(url, json={"BootstrapSecret": secret}, timeout=10)
    assert (bad.status_code, bad.text) == (400, "invalid acl token")
    assert wrong.status_code == 400
    assert wrong.text.startswith("failed to decode request body: json: cannot unmarshal number")
    assert made.status_code == 200, made.text
    assert made.json()["SecretID"] == secret
    assert made.headers["X-Nomad-Index"] == str(made.json()["CreateIndex"])


def test_the_reset_file_allows_one_more_bootstrap(tmp_path: Path) -> None:
    """Follows TestACLEndpoint_Bootstrap_Reset: after a bootstrap, ``acl-bootstrap-reset``
    in the data dir holding the reset index allows one more; a wrong index is named; the
    file once used, a third bootstrap is refused again."""
    data = tmp_path / "data"
    data.mkdir()
    agent = Agent(http_port=None, log_file=tmp_path / "agent.log", acl=True, data_dir=data)
    with agent:
        url = f"{agent.address}/v1/acl/bootstrap"
        first = requests.get(f"{agent.address}/v1/acl/token/self",
                             headers={"X-Nomad-Token": agent.token}, timeout=10).json()  # fmt: skip
        reset = first["CreateIndex"]
        (data / "acl-bootstrap-reset").write_text(f"{reset + 5}\n")
        wrong = requests.post(url, timeout=10)
        (data / "acl-bootstrap-reset").write_text(str(reset))
        second = requests.post(url, timeout=10)
        third = requests.post(url, timeout=10)
        old = requests.get(f"{agent.address}/v1/jobs",
                           headers={"X-Nomad-Token": agent.token}, timeout=10)  # fmt: skip
    assert (wrong.status_code, wrong.text) == (
        400,
        f"Invalid bootstrap reset index (specified {reset + 5}, reset index: {reset})",
    )
    assert second.status_code == 200, second.text
    assert second.json()["SecretID"] != agent.token
    new_reset = second.json()["CreateIndex"]
    assert (third.status_code, third.text) == (
        400,
        f"Invalid bootstrap reset index (specified {reset}, reset index: {new_reset})",
    )
    assert old.status_code == 200, "a reset adds a token; it does not revoke the first"


@pytest.mark.parametrize(("pattern", "methods"), ROUTES, ids=[p for p, _ in ROUTES])
def test_every_protected_route_refuses_a_missing_or_unknown_token(
    acl_agent: Agent, pattern: str, methods: dict
) -> None:
    """Every route and method: without a token, with a secret no token has, and with one
    that is not even a UUID, the answer is Nomad's 403 and text, before the route looks at
    anything; the open routes answer as they do without ACLs."""
    path = concrete(pattern)
    for method in methods:
        answers = {
            name: requests.request(
                method, f"{acl_agent.address}{path}", headers=headers, data="{}", timeout=10
            )
            for name, headers in (
                ("none", {}),
                ("unknown", {"X-Nomad-Token": UNKNOWN}),
                ("junk", {"Authorization": "Bearer not-a-token"}),
            )
        }
        seen = {name: (a.status_code, a.text) for name, a in answers.items()}
        if pattern in OPEN:
            assert all(status != 403 for status, _ in seen.values()), (method, seen)
        elif pattern == "/v1/namespaces":
            # Namespace.ListNamespaces filters: anonymous may use none of them.
            assert seen["none"] == (200, "[]")
            assert seen["unknown"] == seen["junk"] == (403, "Permission denied")
        else:
            unknown = "ACL token not found" if RESOLVED.fullmatch(pattern) else "Permission denied"
            assert seen == {
                "none": (403, "Permission denied"),
                "unknown": (403, unknown),
                "junk": (403, unknown),
            }, method
            assert all(
                a.headers["Content-Type"] == "text/plain; charset=utf-8" for a in answers.values()
            )


def test_nothing_a_refused_request_asked_for_happens(acl_agent: Agent) -> None:
    """The attack ACLs close: another user's process registers a raw_exec job on this
    agent. Refused, and the job is not there afterwards."""
    task = {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/sh", "args": ["id"]}}
    group = {"Name": "g", "Tasks": [task]}
    job = {"Job": {"ID": "intruder", "Name": "intruder", "Type": "batch", "TaskGroups": [group]}}
    refused = requests.put(f"{acl_agent.address}/v1/jobs", json=job, timeout=10)
    assert (refused.status_code, refused.text) == (403, "Permission denied")
    client = nomad.Nomad(address=acl_agent.address, token=acl_agent.token, timeout=10)
    assert client.jobs.get_jobs() == []
    assert client.evaluations.get_evaluations() == []


@pytest.mark.parametrize(
    ("header", "value", "allowed"),
    [
        ("X-Nomad-Token", "{secret}", True),
        ("Authorization", "Bearer {secret}", True),
        ("Authorization", "bearer {secret} trailing words", True),
        ("Authorization", "{secret}", False),
        ("Authorization", "Basic {secret}", False),
    ],
)
def test_the_token_comes_in_x_nomad_token_or_a_bearer_header(
    acl_agent: Agent, header: str, value: str, allowed: bool
) -> None:
    """Follows command/agent/http_test.go TestParseToken: X-Nomad-Token (its " foobar"
    case is not sent: HTTP strips a header value's leading space before any server), or
    ``Authorization: Bearer <secret>`` (any case, first word after it); an Authorization
    header without the Bearer scheme carries no token."""
    headers = {header: value.format(secret=acl_agent.token)}
    answer = requests.get(f"{acl_agent.address}/v1/jobs", headers=headers, timeout=10)
    assert (answer.status_code == 200) is allowed, answer.text
    if not allowed:
        assert answer.text == "Permission denied"


def test_python_nomad_with_the_token_works_and_without_it_is_refused(acl_agent: Agent) -> None:
    """Follows TestHTTPServer_ResolveToken: the management token may do everything (here:
    read the agent's self, which says ACLs are on); a secret no token has is refused with
    "ACL token not found" by a route that resolves it."""
    client = nomad.Nomad(address=acl_agent.address, token=acl_agent.token, timeout=10)
    assert client.agent.get_agent()["config"]["ACL"]["Enabled"] is True
    assert [n["Status"] for n in client.nodes.get_nodes()] == ["ready"]
    stranger = nomad.Nomad(address=acl_agent.address, token=UNKNOWN, timeout=10)
    with pytest.raises(URLNotAuthorizedNomadException) as refused:
        stranger.agent.get_agent()
    assert refused.value.nomad_resp.text == "ACL token not found"


def test_the_web_ui_asks_for_the_token_and_its_static_files_do_not(acl_agent: Agent) -> None:
    """Nomad's UI serves its assets to anyone and asks for a token before it shows data; the
    practice UI renders data on the server, so its pages (and their live fragments) need the
    token in the request, as the kit's Jupyter proxy entry sends it."""
    ui = f"{acl_agent.address}/ui/jobs"
    refused = requests.get(ui, timeout=10)
    fragment = requests.get(f"{ui}?live=1", timeout=10)
    shown = requests.get(ui, headers={"X-Nomad-Token": acl_agent.token}, timeout=10)
    css = requests.get(f"{acl_agent.address}/ui/static/nomadlab.css", timeout=10)
    assert refused.status_code == fragment.status_code == 403
    assert refused.text.startswith("Permission denied: this agent has ACLs on")
    assert "Nomad UI" in refused.text
    assert shown.status_code == 200 and "Jobs" in shown.text
    assert css.status_code == 200
