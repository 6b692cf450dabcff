"""The client file system API stays inside the allocation and never hangs or bloats, whatever
a task puts in its directory: FIFOs, links out, links swapped under a read, long names,
huge files."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from conftest import raw_exec_job, wait_for

from nomadlab.practice import Agent
from nomadlab.practice.client.allocdir import AllocDir, FSError

SECRET = "TOPSECRET-outside-the-allocation"
INNER = "inner content"
BIG_MB = 200
SWAP_SECONDS = 12
SWAP_READS = 300

# The task: a FIFO, links out and dangling, a 200 MB file, then a file and a link to a file
# outside swapped under the same name as fast as it can, until SIGUSR1 (the test has read
# enough) or for SWAP_SECONDS at most: the swapping keeps a core busy.
TASK = f"""
import os, signal, sys, time
a, secret = os.environ["NOMAD_ALLOC_DIR"], sys.argv[1]
enough = []
signal.signal(signal.SIGUSR1, lambda *_: enough.append(1))
os.mkfifo(a + "/fifo")
os.symlink(secret, a + "/outside")
os.symlink(a + "/nowhere", a + "/dangling")
os.mkdir(a + "/sub")
os.symlink(os.path.dirname(secret), a + "/sub/linkdir")
with open(a + "/big", "wb") as f:
    for _ in range({BIG_MB}):
        f.write(b"x" * (1 << 20))
with open(a + "/inner", "w") as f:
    f.write({INNER!r})
os.symlink(secret, a + "/swap")
open(a + "/ready", "w").close()
end = time.monotonic() + {SWAP_SECONDS}
while not enough and time.monotonic() < end:
    os.symlink(secret, a + "/tmp-link")
    os.replace(a + "/tmp-link", a + "/swap")
    with open(a + "/tmp-file", "w") as f:
        f.write({INNER!r})
    os.replace(a + "/tmp-file", a + "/swap")
open(a + "/swapped", "w").close()
time.sleep(600)
"""


@pytest.fixture(scope="module")
def fs_alloc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Agent, str]]:
    """A practice agent running the task above; yields the agent and the allocation ID."""
    tmp = tmp_path_factory.mktemp("fs")
    secret = tmp / "secret.txt"
    secret.write_text(SECRET)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOMADLAB_HOME", str(tmp / "home"))
        agent = Agent(http_port=None, log_file=tmp / "agent.log").start()
    try:
        job = raw_exec_job("files", 1, sys.executable, ["-c", TASK, str(secret)])
        requests.put(f"{agent.address}/v1/jobs", json={"Job": job}, timeout=10).raise_for_status()
        alloc_id = wait_for(
            lambda: [a["ID"] for a in requests.get(f"{agent.address}/v1/allocations").json()],
            what="the allocation",
        )[0]
        wait_for(lambda: stat(agent, alloc_id, "alloc/ready").ok, what="the task's files")
        yield agent, alloc_id
    finally:
        agent.stop()


def stat(agent: Agent, alloc_id: str, path: str) -> requests.Response:
    return fs(agent, alloc_id, "stat", path)


def fs(agent: Agent, alloc_id: str, verb: str, path: str, **params: str) -> requests.Response:
    return requests.get(
        f"{agent.address}/v1/client/fs/{verb}/{alloc_id}",
        params={"path": path, **params},
        timeout=30,
    )


def assert_no_host_path(agent: Agent, response: requests.Response) -> None:
    data_dir = requests.get(f"{agent.address}/v1/agent/self", timeout=10).json()["config"][
        "DataDir"
    ]
    assert data_dir not in response.text
    assert SECRET not in response.text


@pytest.mark.parametrize("swapped_in", ["link out", "fifo", "directory"])
def test_a_name_swapped_between_the_check_and_the_open_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped_in: str
) -> None:
    """The race below, made certain: the name changes right after the agent's lstat."""
    root, secret = tmp_path / "alloc", tmp_path / "secret.txt"
    root.mkdir()
    secret.write_text(SECRET)
    (root / "swap").write_text(INNER)
    check = os.stat

    def check_then_swap(name: str, **kwargs: object) -> os.stat_result:
        monkeypatch.setattr(os, "stat", check)  # once
        info = check(name, **kwargs)
        (root / "swap").unlink()
        if swapped_in == "link out":
            (root / "swap").symlink_to(secret)
        elif swapped_in == "fifo":
            os.mkfifo(root / "swap")
        else:
            (root / "swap").mkdir()
        return info

    monkeypatch.setattr(os, "stat", check_then_swap)
    with pytest.raises(FSError) as refused:
        os.close(AllocDir(root).open("swap"))
    assert refused.value.status == 400
    assert SECRET not in refused.value.message and str(root) not in refused.value.message


def test_a_symlink_swapped_under_a_read_never_leaks_the_outside_file(
    fs_alloc: tuple[Agent, str],
) -> None:
    """The race live: the task swaps as fast as it can while the API reads, at least
    SWAP_READS times and on until both sides of the race were seen (a loaded machine may
    hold the swapping task back for a while), ten times that at most."""
    agent, alloc_id = fs_alloc
    session = requests.Session()
    url = f"{agent.address}/v1/client/fs/cat/{alloc_id}"
    outcomes = {"read": 0, "refused": 0, "leaked": 0}
    for count in range(10 * SWAP_READS):
        if count >= SWAP_READS and outcomes["read"] and outcomes["refused"]:
            break
        response = session.get(url, params={"path": "alloc/swap"}, timeout=30)
        if SECRET in response.text:
            outcomes["leaked"] += 1
        elif response.status_code == 200:
            assert response.text == INNER
            outcomes["read"] += 1
        else:
            assert response.status_code in (400, 404), response.text
            outcomes["refused"] += 1
    enough = {"Signal": "SIGUSR1", "Task": "t"}  # the task stops swapping
    signal_url = f"{agent.address}/v1/client/allocation/{alloc_id}/signal"
    session.post(signal_url, json=enough, timeout=30).raise_for_status()
    wait_for(lambda: stat(agent, alloc_id, "alloc/swapped").ok, what="the swapping to stop")
    assert outcomes["leaked"] == 0, outcomes
    assert outcomes["read"] and outcomes["refused"], f"the race was not exercised: {outcomes}"


def test_a_fifo_is_refused_at_once_and_the_api_keeps_answering(
    fs_alloc: tuple[Agent, str],
) -> None:
    agent, alloc_id = fs_alloc
    for verb, params in (("cat", {}), ("readat", {"offset": "0"}), ("stream", {"follow": "false"})):
        response = fs(agent, alloc_id, verb, "alloc/fifo", **params)
        assert response.status_code == 400, (verb, response.text)
        assert response.headers["Content-Type"].startswith("text/plain")
        assert "not a regular file" in response.text
    assert requests.get(f"{agent.address}/v1/status/leader", timeout=10).ok
    (fifo,) = [f for f in fs(agent, alloc_id, "ls", "alloc").json() if f["Name"] == "fifo"]
    assert fifo["FileMode"].startswith("p")


def test_links_are_reported_as_links_and_never_followed(fs_alloc: tuple[Agent, str]) -> None:
    agent, alloc_id = fs_alloc
    listing = {f["Name"]: f for f in fs(agent, alloc_id, "ls", "alloc").json()}
    for name in ("outside", "dangling"):
        assert listing[name]["FileMode"].startswith("L"), listing[name]
        assert listing[name]["IsDir"] is False
        assert listing[name]["Size"] < 4096  # the link's own length, not its target's
    assert stat(agent, alloc_id, "alloc/dangling").json()["FileMode"].startswith("L")
    for verb, path in (
        ("cat", "alloc/outside"),
        ("cat", "alloc/dangling"),
        ("ls", "alloc/sub/linkdir"),
        ("cat", "alloc/sub/linkdir/secret.txt"),
        ("stat", "alloc/sub/linkdir/secret.txt"),
    ):
        response = fs(agent, alloc_id, verb, path)
        assert response.status_code == 400, (verb, path, response.text)
        assert_no_host_path(agent, response)


def test_names_too_long_are_400s_without_a_host_path(fs_alloc: tuple[Agent, str]) -> None:
    agent, alloc_id = fs_alloc
    for verb in ("ls", "stat", "cat", "stream"):
        response = fs(agent, alloc_id, verb, "alloc/" + "a" * 300)
        assert response.status_code == 400, (verb, response.text)
        assert "file name too long" in response.text
        assert_no_host_path(agent, response)


@pytest.mark.parametrize(
    ("verb", "status"),
    # cat, readat and stream go through the client's file stream (400 on a failed stat);
    # ls and stat are plain client RPCs, whose errors Nomad's HTTP layer sends as 500.
    [("stream", 400), ("cat", 400), ("readat", 400), ("ls", 500), ("stat", 500)],
)
def test_a_missing_path_answers_as_nomad_does(
    fs_alloc: tuple[Agent, str], verb: str, status: int
) -> None:
    agent, alloc_id = fs_alloc
    params = {"offset": "0"} if verb == "readat" else {}
    response = fs(agent, alloc_id, verb, "alloc/nothing-here", **params)
    assert response.status_code == status
    assert "no such file or directory" in response.text
    assert_no_host_path(agent, response)


def test_stream_and_readat_serve_a_file(fs_alloc: tuple[Agent, str]) -> None:
    agent, alloc_id = fs_alloc
    readat = fs(agent, alloc_id, "readat", "alloc/inner", offset="6", limit="4")
    assert readat.text == INNER[6:10]
    frame = fs(agent, alloc_id, "stream", "alloc/inner", follow="false").json()
    assert frame["File"] == "alloc/inner"
    assert frame["Offset"] == len(INNER)


def test_a_200_mb_cat_streams_without_growing_the_agent(fs_alloc: tuple[Agent, str]) -> None:
    agent, alloc_id = fs_alloc
    process = psutil.Process(agent.pid)
    before = process.memory_info().rss
    peak, received = before, 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with requests.get(
            f"{agent.address}/v1/client/fs/cat/{alloc_id}",
            params={"path": "alloc/big"},
            stream=True,
            timeout=120,
        ) as response:
            assert response.status_code == 200
            for chunk in response.iter_content(1 << 16):
                received += len(chunk)
    finally:
        done.set()
        sampler.join()
    assert received == BIG_MB << 20
    assert peak - before < 16 << 20, f"agent RSS grew by {(peak - before) / 2**20:.1f} MiB"


def test_paths_of_the_task_dirs_still_list(fs_alloc: tuple[Agent, str]) -> None:
    agent, alloc_id = fs_alloc
    root = {f["Name"]: f["IsDir"] for f in fs(agent, alloc_id, "ls", "/").json()}
    assert root == {"alloc": True, "t": True}
    assert fs(agent, alloc_id, "cat", "alloc/inner").text == INNER
    assert fs(agent, alloc_id, "cat", "alloc").status_code == 400
