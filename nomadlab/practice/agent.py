"""The practice agent: ``nomadlab agent -dev``, a Nomad dev agent written in Python.

``PracticeAgent`` is the agent itself (server and clients on one asyncio loop, the HTTP
API on tornado); ``main`` is its command line, with ``nomad agent -dev``'s banner and
signals; ``Agent`` starts one as a child process and waits until it is ready, for
notebooks and tests.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import tornado.httpserver

from nomadlab.contract import AGENT_ID_ENV, AGENT_ID_META, proxy_secret
from nomadlab.practice import devconfig, structs
from nomadlab.practice.acl import ACLs
from nomadlab.practice.client.allocrunner import AllocRunner
from nomadlab.practice.client.client import Client, fingerprint_node
from nomadlab.practice.client.drivers import DockerDriver, RawExecDriver
from nomadlab.practice.client.reaper import Reaper
from nomadlab.practice.client.watchdog import HELPER_VAR
from nomadlab.practice.config import SECOND, AgentConfig, ConfigError
from nomadlab.practice.config import load as load_config
from nomadlab.practice.deployments import DeploymentWatcher
from nomadlab.practice.drainer import NodeDrainer
from nomadlab.practice.gc import CoreScheduler
from nomadlab.practice.heartbeat import NodeHeartbeater
from nomadlab.practice.http.handler import MAX_BODY
from nomadlab.practice.http.server import make_app
from nomadlab.practice.http.stubs import AllocStubs
from nomadlab.practice.jobspec.worker import ParsePool
from nomadlab.practice.periodic import PeriodicDispatch
from nomadlab.practice.scheduler import Scheduler
from nomadlab.practice.server import APIError, Server
from nomadlab.practice.state import StateStore

log = logging.getLogger("nomad")


class PracticeAgent:
    """Server and client(s) in one process, as ``nomad agent -dev`` runs them."""

    def __init__(
        self,
        bind: str = "127.0.0.1",
        http_port: int = 4646,
        node_name: str | None = None,
        nodes: int = 1,
        data_dir: Path | None = None,
        dev: bool = True,
        config: AgentConfig | None = None,
    ) -> None:
        self.bind = bind
        self.config = config or AgentConfig()
        self.http_port = http_port
        self.node_name = node_name or socket.gethostname()
        self.node_count = nodes
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="NomadClient"))
        self._own_data_dir = data_dir is None
        self.dev = dev
        self.log = log
        self.proxy_secret = proxy_secret()  # trusted as the kit's Jupyter proxy entry
        self.store = StateStore()
        self.alloc_stubs = AllocStubs(self.store)
        self.acl = ACLs(self.config.acl_enabled, self.store, self.data_dir)
        self.reaper = Reaper(self.data_dir if self._own_data_dir else None, subreaper=True)
        self.parser = ParsePool(
            {HELPER_VAR: self.reaper.agent_id}, self.reaper.track, self.reaper.untrack
        )
        self.scheduler = Scheduler(self.store)
        self.server = Server(self.store, self.scheduler)
        self.deployments = DeploymentWatcher(self.store, self.scheduler)
        self.periodic = PeriodicDispatch(self.store, self.server)
        self.core = CoreScheduler(self.store)
        self.drainer = NodeDrainer(self.store, self.scheduler)
        self.heartbeater = NodeHeartbeater(self.store, self.scheduler, self.config)
        self.drivers = {
            "raw_exec": RawExecDriver(enabled=dev, reaper=self.reaper),
            "docker": DockerDriver(),
        }
        self.clients: list[Client] = []
        self.blocking_queries = 0
        self.started = time.time()
        self._tasks: list[asyncio.Task] = []
        self._http: tornado.httpserver.HTTPServer | None = None

    @property
    def http_addr(self) -> str:
        """The advertised HTTP address: the bind address, or loopback when binding all (both
        families then listen, so 127.0.0.1 reaches it)."""
        return host_port(advertised(self.bind), self.http_port)

    @property
    def rpc_addr(self) -> str:
        return host_port(self.bind, RPC_PORT)

    def listen(self) -> None:
        """Bind the HTTP port; raises OSError when it is taken. ``0.0.0.0`` or ``::`` listen
        on every address of both families (dual-stack), as Go's listener on ``[::]`` does."""
        address = None if ipaddress.ip_address(self.bind).is_unspecified else self.bind
        sockets = tornado.netutil.bind_sockets(self.http_port, address=address, reuse_port=False)
        self._http = tornado.httpserver.HTTPServer(make_app(self), max_body_size=MAX_BODY)
        self._http.add_sockets(sockets)
        self.http_port = sockets[0].getsockname()[1]

    def register_nodes(self) -> None:
        """Fingerprint the node(s) and register them, each with an equal share of the host."""
        for number in range(self.node_count):
            name = self.node_name if self.node_count == 1 else f"{self.node_name}-{number + 1}"
            node = fingerprint_node(name, 1 / self.node_count, self.http_addr, self.drivers)
            self.store.upsert("nodes", node)
            client = Client(self.store, node, self.drivers, self.data_dir / name)
            client.on_alloc_terminal = self.server.alloc_terminal
            self.clients.append(client)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then stop every task."""
        for coroutine in (
            self.scheduler.run(),
            self.deployments.run(),
            self.periodic.run(),
            self.reaper.supervise(),
            self.core.run(),
            self.drainer.run(),
            *(client.run() for client in self.clients),
            *(client.heartbeat(self.heartbeater.heartbeat) for client in self.clients),
        ):
            self._tasks.append(asyncio.create_task(coroutine))
        for client in self.clients:
            log.info(
                "client: node registration complete: node_id=%s name=%s",
                client.node["ID"],
                client.node["Name"],
            )
        log.info("nomad: cluster leadership acquired")
        await stop.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        log.info("agent: requesting shutdown")
        if self._http is not None:
            self._http.stop()
        self.store.release_waiters()
        await asyncio.sleep(0.05)  # let the released blocking queries send their answers
        for task in self._tasks:
            task.cancel()
        self.scheduler.stop()
        await self.parser.close()
        self.heartbeater.stop()
        await asyncio.gather(*(client.shutdown() for client in self.clients))
        self.reaper.sweep(everything=True)
        self.reaper.close()
        if self._own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        log.info("agent: shutdown complete")

    async def fail_node(self, node_id: str) -> dict:
        """Practice only: the node's machine dies (its tasks are killed, its heartbeats
        stop); Nomad's heartbeat timer then marks it down, as for a real lost machine."""
        client = self.node_client(node_id)
        if not client.alive:
            raise APIError(400, f'node "{client.node["Name"]}" has already failed')
        await client.fail()
        log.warning(
            "practice: node %s failed: its tasks are gone and it stops heartbeating",
            client.node["Name"],
        )
        return self.practice_node_response(client)

    def recover_node(self, node_id: str) -> dict:
        """Practice only: the failed node's machine is back and heartbeats again."""
        client = self.node_client(node_id)
        if client.alive:
            raise APIError(400, f'node "{client.node["Name"]}" has not failed')
        client.recover()
        log.info("practice: node %s recovered", client.node["Name"])
        return self.practice_node_response(client)

    def node_client(self, node_id: str) -> Client:
        node = self.server.node(node_id)
        return next(c for c in self.clients if c.node["ID"] == node["ID"])

    def practice_node_response(self, client: Client) -> dict:
        return {
            "NodeID": client.node["ID"],
            "Name": client.node["Name"],
            "Failed": not client.alive,
            "Status": client.node["Status"],
            "Index": self.store.index,
        }

    def alloc_dir(self, alloc: dict) -> Path:
        return self.client_for(alloc).alloc_dir(alloc["ID"])

    def client_for(self, alloc: dict) -> Client:
        return next(c for c in self.clients if c.node["ID"] == alloc["NodeID"])

    def alloc_runner(self, alloc: dict) -> AllocRunner | None:
        """The runner of an allocation, if its client still runs it."""
        return self.client_for(alloc).runners.get(alloc["ID"])

    def member(self) -> dict:
        return {
            "Name": f"{self.node_name}.global",
            "Addr": self.bind,
            "Port": SERF_PORT,
            "Tags": {
                "region": structs.REGION,
                "dc": structs.DATACENTER,
                "role": "nomad",
                "build": structs.VERSION,
                "port": str(RPC_PORT),
                "bootstrap": "1",
            },
            "Status": "alive",
            "ProtocolMin": 1,
            "ProtocolMax": 5,
            "ProtocolCur": 2,
            "DelegateMin": 2,
            "DelegateMax": 5,
            "DelegateCur": 4,
        }

    def agent_config(self) -> dict:
        """The agent's Config as /v1/agent/self sends it: a dev agent's (DevConfig) with this
        agent's node name, data dir, ports, addresses, ACLs and heartbeat timers."""
        config = devconfig.dev_config(self.bind)
        config.update(NodeName=self.node_name, DataDir=str(self.data_dir), DevMode=self.dev)
        config["Files"] = self.config.files or None
        config["Version"]["Version"] = structs.VERSION
        config["Ports"]["HTTP"] = self.http_port  # RPC and Serf: Nomad's, as RPC_PORT says
        # normalizeAddrs: each address the bind address, each advertised one host:port.
        for name, port in config["Ports"].items():
            config["Addresses"][name] = self.bind
            config["AdvertiseAddrs"][name] = host_port(advertised(self.bind), port)
        # The kit's launch-time id, so that it can tell its agent from a forgery.
        config["Client"]["Meta"] = {AGENT_ID_META: os.environ.get(AGENT_ID_ENV, "")}
        # The heartbeat timers as the agent's config has them: zero (Nomad's default) unless set.
        config["Server"].update(
            HeartbeatGrace=round((self.config.heartbeat_grace or 0) * SECOND),
            MinHeartbeatTTL=round((self.config.min_heartbeat_ttl or 0) * SECOND),
            MaxHeartbeatsPerSecond=self.config.max_heartbeats_per_second or 0,
        )
        config["ACL"]["Enabled"] = self.acl.enabled
        return devconfig.complete("Config", config)

    def self_info(self) -> dict:
        """/v1/agent/self: the agent's configuration, membership and stats."""
        return {
            "config": self.agent_config(),
            "member": self.member(),
            "stats": {
                "nomad": {
                    "server": "true",
                    "leader": "true",
                    "bootstrap": "true",
                    "known_regions": "1",
                },
                "client": {
                    "known_servers": self.rpc_addr,
                    "num_allocations": str(sum(len(c.runners) for c in self.clients)),
                },
                "runtime": {
                    "arch": os.uname().machine,
                    "version": sys.version.split()[0],
                    "max_procs": str(os.cpu_count()),
                },
                "practice": {
                    "blocking_queries": str(self.blocking_queries),
                    "uptime_seconds": str(int(time.time() - self.started)),
                },
            },
        }


# The dev agent's RPC and Serf ports whatever its HTTP port: the practice agent opens neither,
# so it reports Nomad's defaults (as /v1/status/leader shows them).
RPC_PORT = 4647
SERF_PORT = 4648

BANNER = """==> {loaded}
==> Starting Nomad agent...
==> This is nomadlab's practice agent: Nomad's HTTP API in Python; tasks are real processes
==> Nomad agent configuration:

       Advertise Addrs: HTTP: {http}; RPC: {rpc}; Serf: {serf}
            Bind Addrs: HTTP: [{http}]; RPC: {rpc}; Serf: {serf}
                Client: true
             Log Level: {level}
                 Nodes: {nodes}
               Node Id: {node_id}
                Region: global (DC: dc1)
                Server: true
               Version: {version}

{warning}==> Nomad agent started! Log data will stream in below:
"""

EXPOSED = """==> WARNING: the API listens on {bind}, beyond this machine,
    with raw_exec on and no ACLs: anyone who can reach it can run commands as you.
    Use -bind 127.0.0.1 unless you mean it.

"""


class HCLogFormatter(logging.Formatter):
    """Log lines shaped like Nomad's: ``    <time> [INFO]  client: message``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        millis = int(record.msecs)
        level = f"[{record.levelname.replace('WARNING', 'WARN')}]"
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return f"    {stamp}.{millis:03d}Z {level:<7} {message}"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nomadlab agent",
        description="Run the practice agent, a local stand-in for `nomad agent -dev`.",
    )
    parser.add_argument(
        "-dev", action="store_true", help="dev mode: server and client, raw_exec on"
    )
    parser.add_argument("-bind", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("-http-port", type=int, default=4646, help="HTTP API port (default 4646)")
    parser.add_argument("-node", default=None, help="node name (default: the hostname)")
    parser.add_argument("-nodes", type=int, default=1, help="how many client nodes to simulate")
    parser.add_argument("-data-dir", type=Path, default=None, help="where alloc dirs go")
    parser.add_argument(
        "-config",
        type=Path,
        action="append",
        default=[],
        help="a config file or directory (repeatable); the agent reads the server block's "
        "heartbeat_grace, min_heartbeat_ttl and max_heartbeats_per_second, and acl.enabled",
    )
    parser.add_argument(
        "-acl-enabled",
        action="store_true",
        help="refuse every protected route without the token `nomad acl bootstrap` creates",
    )
    parser.add_argument(
        "-log-level",
        default="DEBUG",
        choices=["DEBUG", "INFO", "WARN", "ERROR"],
        help="log level (default DEBUG, as -dev sets it)",
    )
    args = parser.parse_args(argv)
    if not args.dev:
        parser.error("Must specify either server, client or dev mode for the agent.")
    try:
        ipaddress.ip_address(args.bind)
    except ValueError:
        parser.error(f"-bind takes an IP address such as 127.0.0.1, not {args.bind!r}")
    if not 1 <= args.nodes <= 64:
        parser.error("-nodes must be between 1 and 64")
    return args


def main(argv: list[str] | None = None) -> int:
    """``nomadlab agent -dev``: serve until SIGINT or SIGTERM, then stop every task, exit 0."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(HCLogFormatter())
    logging.basicConfig(level=args.log_level.replace("WARN", "WARNING"), handlers=[handler])
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.INFO)  # not "Using selector" first of all
    return asyncio.run(serve(args))


async def serve(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"==> {exc}", file=sys.stderr, flush=True)
        return 1
    config.acl_enabled = config.acl_enabled or args.acl_enabled
    agent = PracticeAgent(
        args.bind, args.http_port, args.node, args.nodes, args.data_dir, config=config
    )
    try:
        agent.listen()
    except OSError as exc:
        agent.reaper.close()
        print(
            f"==> Error starting agent: failed to start HTTP server: listen tcp "
            f"{args.bind}:{args.http_port}: {exc.strerror}\n"
            f"    Is another Nomad agent (or nomadlab) already running? "
            f"Try `nomadlab doctor`, or pass -http-port with a free port.",
            file=sys.stderr,
            flush=True,
        )
        return 1
    agent.register_nodes()
    print(
        BANNER.format(
            loaded=f"Loaded configuration from {', '.join(config.files)}"
            if config.files
            else "No configuration files loaded",
            version=structs.VERSION,
            http=agent.http_addr,
            rpc=agent.rpc_addr,
            serf=host_port(args.bind, SERF_PORT),
            level=args.log_level,
            nodes=len(agent.clients),
            node_id=agent.clients[0].node["ID"],
            warning=""
            if ipaddress.ip_address(args.bind).is_loopback or agent.acl.enabled
            else EXPOSED.format(bind=args.bind),
        ),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig, name in ((signal.SIGINT, "interrupt"), (signal.SIGTERM, "terminated")):
        loop.add_signal_handler(sig, lambda name=name: caught(name, stop))
    await agent.run(stop)
    return 0


def caught(name: str, stop: asyncio.Event) -> None:
    print(f"==> Caught signal: {name}", flush=True)
    stop.set()


class Agent:
    """A practice agent in a child process: start it, use ``address``, stop it."""

    def __init__(
        self,
        http_port: int | None = 4646,
        bind: str = "127.0.0.1",
        nodes: int = 1,
        node_name: str | None = None,
        log_file: Path | str | None = None,
        config: list[Path] | None = None,
        acl: bool = False,
        bootstrap: bool = True,
        data_dir: Path | None = None,
    ) -> None:
        """``config``: agent configuration files or directories, each passed as ``-config``;
        ``acl``: start with ``-acl-enabled`` and (``bootstrap``) bootstrap it, the secret
        then in ``token``; ``data_dir``: ``-data-dir``, else a temporary one."""
        self.http_port = http_port or free_port(bind)
        self.acl = acl
        self.bootstrap = bootstrap
        self.data_dir = data_dir
        self.token = ""
        self.bind = bind
        self.nodes = nodes
        self.node_name = node_name
        self.config = list(config or [])
        self.log_file = (
            Path(log_file)
            if log_file
            else Path(tempfile.mkstemp(prefix="nomadlab-agent-", suffix=".log")[1])
        )
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"http://{host_port(advertised(self.bind), self.http_port)}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "nomadlab",
            "agent",
            "-dev",
            "-bind",
            self.bind,
            "-http-port",
            str(self.http_port),
            "-nodes",
            str(self.nodes),
        ]
        if self.node_name:
            command += ["-node", self.node_name]
        for path in self.config:
            command += ["-config", str(path)]
        if self.acl:
            command.append("-acl-enabled")
        if self.data_dir:
            command += ["-data-dir", str(self.data_dir)]
        return command

    def start(self, timeout: float = 30.0) -> Agent:
        """Start the agent and return once its leader is known and a node is ready."""
        with self.log_file.open("ab") as log_fh:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the practice agent exited with code {self.process.returncode}:\n"
                    f"{self.log_tail()}"
                )
            if self.ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"the practice agent was not ready after {timeout:g}s:\n{self.log_tail()}"
        )

    def ready(self) -> bool:
        """True when the API answers with a leader and at least one ready node (once the
        agent with ACLs has been bootstrapped, with the token; one left without a token
        when its health answers)."""
        if self.acl and not self.bootstrap:
            return self.call("GET", "/v1/agent/health") is not None
        if self.acl and not self.token:
            answer = self.call("POST", "/v1/acl/bootstrap")
            if answer is None:
                return False
            self.token = answer["SecretID"]
        nodes = self.call("GET", "/v1/nodes")
        return nodes is not None and any(n["Status"] == "ready" for n in nodes)

    def call(self, method: str, path: str) -> Any:
        """The API's JSON answer to ``method path`` (with the token, if any), None when it
        does not answer yet."""
        request = urllib.request.Request(f"{self.address}{path}", method=method)
        if self.token:
            request.add_header("X-Nomad-Token", self.token)
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                return json.load(response)
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the agent (it stops its tasks), SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Agent:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def advertised(bind: str) -> str:
    """The address to reach an agent bound to ``bind``: loopback when it binds all."""
    return "127.0.0.1" if ipaddress.ip_address(bind).is_unspecified else bind


def host_port(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets (``[::1]:4646``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
