"""``nomadlab agent -dev -config``: the server block's heartbeat timers, from HCL or JSON files
or a directory of them, as ``nomad agent -dev -config`` reads them; anything else refused."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import practice_node, wait_for

from nomadlab.practice import Agent
from nomadlab.practice.config import AgentConfig, ConfigError, load
from nomadlab.practice.heartbeat import NodeHeartbeater
from nomadlab.practice.scheduler import Scheduler
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import parse_rfc3339


def test_a_config_directory_sets_the_servers_heartbeat_timers(tmp_path: Path) -> None:
    configs = tmp_path / "config"
    configs.mkdir()
    (configs / "10-server.hcl").write_text(
        'server {\n  heartbeat_grace   = "2s"\n  min_heartbeat_ttl = "5s"\n}\n'
    )
    # Later files win, and zero keeps what was set before (as Nomad merges them).
    (configs / "20-server.json").write_text(
        json.dumps({"server": {"min_heartbeat_ttl": "1200ms", "heartbeat_grace": "0s"}})
    )
    (configs / "notes.txt").write_text("not a config file")
    with Agent(http_port=None, log_file=tmp_path / "agent.log", config=[configs]) as agent:
        server = requests.get(f"{agent.address}/v1/agent/self", timeout=10).json()["config"][
            "Server"
        ]
        banner = agent.log_file.read_text()
        (node,) = requests.get(f"{agent.address}/v1/nodes", timeout=10).json()
        failed = time.time()
        practice_node(agent, node["ID"], "fail").raise_for_status()

        def down_node() -> dict | None:
            now = requests.get(f"{agent.address}/v1/node/{node['ID']}", timeout=10).json()
            return now if now["Status"] == "down" else None

        down = wait_for(down_node, what="the failed node to go down")
    # Noticed after the configured TTL (1.2 to 2.4 s) and grace (2 s); Nomad's defaults would
    # take 20 s at the very least.
    missed = down["Events"][-1]
    assert missed["Message"] == "Node heartbeat missed"
    assert parse_rfc3339(missed["Timestamp"]) / 1e9 - failed < 20
    assert server["HeartbeatGrace"] == 2 * 10**9
    assert server["MinHeartbeatTTL"] == 1_200_000_000
    assert server["MaxHeartbeatsPerSecond"] == 0, "unset: Nomad's default"
    loaded = (
        f"==> Loaded configuration from {configs / '10-server.hcl'}, {configs / '20-server.json'}"
    )
    assert loaded in banner


def test_without_a_config_the_agent_says_so_and_keeps_nomads_timers(tmp_path: Path) -> None:
    with Agent(http_port=None, log_file=tmp_path / "agent.log") as agent:
        server = requests.get(f"{agent.address}/v1/agent/self", timeout=10).json()["config"][
            "Server"
        ]
    assert "==> No configuration files loaded" in agent.log_file.read_text().splitlines()
    assert server["HeartbeatGrace"] == server["MinHeartbeatTTL"] == 0


def test_the_heartbeat_ttl_and_the_servers_timer_follow_the_config() -> None:
    async def granted(config: AgentConfig) -> tuple[float, float]:
        store = StateStore()
        store.upsert("nodes", {"ID": "n1", "Status": "ready", "Events": []})
        heartbeater = NodeHeartbeater(store, Scheduler(store), config)
        ttl = heartbeater.heartbeat("n1")
        timer = heartbeater.timers["n1"].when() - asyncio.get_running_loop().time()
        heartbeater.stop()
        return ttl, timer

    ttl, timer = asyncio.run(granted(AgentConfig(min_heartbeat_ttl=2.0, heartbeat_grace=3.0)))
    assert 2.0 <= ttl <= 4.0, "the TTL plus a stagger of up to the TTL"
    assert ttl + 3.0 - 0.5 <= timer <= ttl + 3.0
    ttl, timer = asyncio.run(granted(AgentConfig()))
    assert 10.0 <= ttl <= 20.0 and ttl + 9.5 <= timer <= ttl + 10.0, "Nomad's 10s and 10s"


def _agent_with(tmp_path: Path, *configs: Path) -> subprocess.CompletedProcess[str]:
    flags = [arg for path in configs for arg in ("-config", str(path))]
    return subprocess.run(
        [sys.executable, "-m", "nomadlab", "agent", "-dev", "-http-port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("soon.hcl", 'server {\n  heartbeat_grace = "soon"\n}\n', 'time: invalid duration "soon"'),
        ("unit.hcl", 'server {\n  min_heartbeat_ttl = "10"\n}\n', "time: missing unit"),
        ("negative.hcl", 'server {\n  heartbeat_grace = "-1s"\n}\n', "a positive duration"),
        ("number.hcl", "server {\n  heartbeat_grace = 10\n}\n", 'a duration such as "10s"'),
        ("rate.json", '{"server": {"max_heartbeats_per_second": "fast"}}', "a positive number"),
        ("broken.hcl", "server {\n  heartbeat_grace = \n", "line 2"),
        ("broken.json", '{"server": ', "Expecting value: line 1 column 12"),
        ("acl.hcl", 'acl {\n  enabled = "yes"\n}\n', "acl.enabled must be true or false"),
        ("ttl.hcl", 'acl {\n  token_ttl = "30s"\n}\n', "does not read acl.token_ttl"),
    ],
)
def test_a_config_it_cannot_use_is_refused_with_the_file_and_the_reason(
    tmp_path: Path, name: str, text: str, error: str
) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as refused:
        load([tmp_path / name])
    assert str(refused.value).startswith(f"Error loading configuration from {tmp_path / name}: ")
    assert error in str(refused.value)


def test_acls_are_on_once_any_file_turns_them_on(tmp_path: Path) -> None:
    """ACLConfig.Merge (command/agent/config.go): a later ``enabled = false`` does not turn
    off what an earlier file turned on."""
    (tmp_path / "10-acl.hcl").write_text("acl {\n  enabled = true\n}\n")
    (tmp_path / "20-acl.json").write_text(json.dumps({"acl": {"enabled": False}}))
    assert load([tmp_path]).acl_enabled
    assert not load([tmp_path / "20-acl.json"]).acl_enabled


def test_a_missing_config_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or directory") as refused:
        load([tmp_path / "nowhere.hcl"])
    assert f"stat {tmp_path / 'nowhere.hcl'}: no such file or directory" in str(refused.value)


def test_the_agent_refuses_what_it_does_not_read_and_exits_1(tmp_path: Path) -> None:
    """The command's side: Nomad's prefix on stderr, exit code 1, no traceback; inside a
    directory, the file is named."""
    (tmp_path / "a.hcl").write_text('server {\n  heartbeat_grace = "1s"\n}\n')
    (tmp_path / "b.hcl").write_text(
        'data_dir = "/tmp/x"\nclient {\n  enabled = true\n}\nserver {\n  enabled = true\n}\n'
    )
    result = _agent_with(tmp_path, tmp_path)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith(
        f"==> Error loading configuration from {tmp_path}: Error loading {tmp_path / 'b.hcl'}: "
        "the practice agent does not read data_dir, client, server.enabled: it reads only "
        "server.heartbeat_grace, server.min_heartbeat_ttl, server.max_heartbeats_per_second, "
        "acl.enabled"
    )
    assert "Traceback" not in result.stderr
