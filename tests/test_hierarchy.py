"""What the job hierarchy shows, as text and as a picture, checked on the artists drawn."""

from __future__ import annotations

import copy
from typing import Any

import matplotlib

matplotlib.use("Agg")

import nomad
import pytest
from conftest import JOBS
from matplotlib.patches import FancyBboxPatch
from matplotlib.transforms import Bbox

from nomadlab.hierarchy import GROUP_STYLE, JOB_STYLE, TASK_STYLE, draw_hierarchy, hierarchy_text
from nomadlab.plots import Chart


def task(name: str, driver: str, *, networks: list | None = None, cpu: int | None = 100,
         memory: int | None = 300) -> dict[str, Any]:  # fmt: skip
    """A task as /v1/jobs/parse returns it (canonicalised unless cpu/memory are None)."""
    resources: dict[str, Any] = {}
    if cpu is not None:
        resources["CPU"] = cpu
    if memory is not None:
        resources["MemoryMB"] = memory
    if networks is not None:
        resources["Networks"] = networks
    return {"Name": name, "Driver": driver, "Config": {}, "Resources": resources or None}


def dynamic(label: str, to: int = 0) -> dict[str, Any]:
    return {"Label": label, "Value": 0, "To": to, "HostNetwork": "default"}


def static(label: str, value: int) -> dict[str, Any]:
    return {"Label": label, "Value": value, "To": 0, "HostNetwork": "default"}


def tutorial_job() -> dict[str, Any]:
    """jobs/microservice.nomad, parsed: one group, a docker task with a task-level port."""
    network = {"MBits": 10, "DynamicPorts": [dynamic("http")], "ReservedPorts": None}
    return {
        "ID": "http-microservice",
        "Name": "http-microservice",
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {"Name": "echo", "Count": 1, "Tasks": [task("server", "docker", networks=[network])]}
        ],
    }


def shop_job() -> dict[str, Any]:
    """Two groups: web (count 3, two raw_exec tasks sharing a dynamic port), cache (static)."""
    return {
        "ID": "shop",
        "Type": "service",
        "Datacenters": ["dc1", "dc2"],
        "TaskGroups": [
            {
                "Name": "web",
                "Count": 3,
                "Networks": [{"DynamicPorts": [dynamic("http")], "ReservedPorts": None}],
                "Tasks": [task("server", "raw_exec", memory=64), task("log-shipper", "raw_exec")],
            },
            {
                "Name": "cache",
                "Count": 1,
                "Networks": [{"DynamicPorts": None, "ReservedPorts": [static("db", 6379)]}],
                "Tasks": [task("redis", "docker", cpu=500, memory=256)],
            },
        ],
    }


# -- the text tree ------------------------------------------------------------------------------


def test_text_of_the_tutorial_job() -> None:
    assert hierarchy_text(tutorial_job()) == (
        'job "http-microservice"\n'
        "  type service, datacenters dc1\n"
        '└── group "echo"\n'
        "    │ count 1\n"
        '    └── task "server"\n'
        "          driver: docker\n"
        "          ports: http (dynamic, task network)\n"
        "          cpu 100 MHz, memory 300 MB"
    )


def test_text_of_two_groups_in_declaration_order() -> None:
    assert hierarchy_text(shop_job()) == (
        'job "shop"\n'
        "  type service, datacenters dc1, dc2\n"
        '├── group "web"\n'
        "│   │ count 3\n"
        "│   │ network: http (dynamic)\n"
        '│   ├── task "server"\n'
        "│   │     driver: raw_exec\n"
        "│   │     ports: http (group network)\n"
        "│   │     cpu 100 MHz, memory 64 MB\n"
        '│   └── task "log-shipper"\n'
        "│         driver: raw_exec\n"
        "│         ports: http (group network)\n"
        "│         cpu 100 MHz, memory 300 MB\n"
        '└── group "cache"\n'
        "    │ count 1\n"
        "    │ network: db (static 6379)\n"
        '    └── task "redis"\n'
        "          driver: docker\n"
        "          ports: db (group network)\n"
        "          cpu 500 MHz, memory 256 MB"
    )


def test_text_of_an_uncanonicalised_job_uses_nomads_defaults() -> None:
    job = {
        "ID": "bare",
        "TaskGroups": [
            {"Name": "g", "Count": None, "Tasks": [task("t", "exec", cpu=None, memory=None)]}
        ],
    }
    assert hierarchy_text(job) == (
        'job "bare"\n  type service\n└── group "g"\n    │ count 1\n    └── task "t"\n'
        "          driver: exec"
    )


def test_text_shows_port_mapping_and_accepts_a_register_body() -> None:
    job = tutorial_job()
    job["TaskGroups"][0]["Tasks"][0]["Resources"]["Networks"][0]["DynamicPorts"] = [
        dynamic("http", to=5678)
    ]
    text = hierarchy_text({"Job": job})
    assert "ports: http (dynamic, to 5678, task network)" in text


def test_text_of_a_job_without_groups() -> None:
    assert hierarchy_text({"ID": "empty", "Type": "batch"}) == (
        'job "empty"\n  type batch\n  (no task groups)'
    )


# -- the picture --------------------------------------------------------------------------------


def boxes(fig: Chart) -> dict[str, FancyBboxPatch]:
    return {p.get_gid(): p for p in fig.axes[0].patches if p.get_gid()}


def texts(fig: Chart, gid: str) -> list[str]:
    """The lines of text drawn in the box ``gid``, title first."""
    found = [t for t in fig.axes[0].texts if (t.get_gid() or "").startswith(gid + ":")]
    return [t.get_text() for t in sorted(found, key=lambda t: -t.get_position()[1])]


def extent(artist: Any) -> Bbox:
    return artist.get_window_extent()


def test_picture_has_a_box_per_job_group_and_task_with_their_labels() -> None:
    fig = draw_hierarchy(shop_job())
    assert isinstance(fig, Chart)
    drawn = boxes(fig)
    assert {g for g in drawn if ":copy" not in g} == {
        "job", "group:web", "group:cache", "task:web/server", "task:web/log-shipper",
        "task:cache/redis",
    }  # fmt: skip
    assert texts(fig, "job") == ['job "shop"', "type service, datacenters dc1, dc2"]
    assert texts(fig, "group:web") == ['group "web"', "count 3", "network: http (dynamic)"]
    assert texts(fig, "group:cache") == ['group "cache"', "count 1", "network: db (static 6379)"]
    assert texts(fig, "task:web/server") == [
        'task "server"', "driver: raw_exec", "ports: http (group network)",
        "cpu 100 MHz, memory 64 MB",
    ]  # fmt: skip
    assert texts(fig, "task:cache/redis")[1:3] == ["driver: docker", "ports: db (group network)"]
    assert drawn["job"].get_facecolor() == matplotlib.colors.to_rgba(JOB_STYLE["facecolor"])
    assert drawn["group:web"].get_edgecolor() == matplotlib.colors.to_rgba(GROUP_STYLE["edgecolor"])
    assert drawn["task:cache/redis"].get_edgecolor() == matplotlib.colors.to_rgba(
        TASK_STYLE["edgecolor"]
    )


def test_picture_of_the_tutorial_job_puts_the_port_on_the_task() -> None:
    fig = draw_hierarchy(tutorial_job(), title="The tutorial's job")
    assert texts(fig, "group:echo") == ['group "echo"', "count 1"]
    assert texts(fig, "task:echo/server") == [
        'task "server"', "driver: docker", "ports: http (dynamic, task network)",
        "cpu 100 MHz, memory 300 MB",
    ]  # fmt: skip
    assert [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "title"] == [
        "The tutorial's job"
    ]


@pytest.mark.parametrize(("count", "copies"), [(1, 0), (2, 1), (3, 2), (10, 2), (0, 0)])
def test_count_is_drawn_as_copies_behind_the_group(count: int, copies: int) -> None:
    job = tutorial_job()
    job["TaskGroups"][0]["Count"] = count
    fig = draw_hierarchy(job)
    shadows = [g for g in boxes(fig) if g.startswith("group:echo:copy")]
    assert len(shadows) == copies
    assert f"count {count}" in texts(fig, "group:echo")
    front = extent(boxes(fig)["group:echo"])
    for gid in shadows:  # each copy peeks out below and to the right of the group's box
        behind = extent(boxes(fig)[gid])
        assert behind.x1 > front.x1 and behind.y0 < front.y0


def test_rows_go_job_then_groups_then_tasks_and_tasks_sit_under_their_group() -> None:
    fig = draw_hierarchy(shop_job())
    fig.canvas.draw()
    drawn = {g: extent(p) for g, p in boxes(fig).items()}
    groups = [drawn["group:web"], drawn["group:cache"]]
    tasks = {g: b for g, b in drawn.items() if g.startswith("task:")}
    assert all(drawn["job"].y0 > g.y1 for g in groups)
    assert all(g.y0 > t.y1 for g in groups for t in tasks.values())
    assert drawn["group:web"].x1 < drawn["group:cache"].x0  # declaration order, left to right
    web_tasks = [tasks["task:web/server"], tasks["task:web/log-shipper"]]
    assert web_tasks[0].x1 < web_tasks[1].x0 < tasks["task:cache/redis"].x0
    # the group box is centred over its own tasks
    web_centre = (drawn["group:web"].x0 + drawn["group:web"].x1) / 2
    assert web_tasks[0].x0 < web_centre < web_tasks[1].x1
    redis = tasks["task:cache/redis"]
    assert redis.x0 < (drawn["group:cache"].x0 + drawn["group:cache"].x1) / 2 < redis.x1


def test_lines_join_each_child_to_its_parent() -> None:
    fig = draw_hierarchy(shop_job())
    ax = fig.axes[0]
    lines = {line.get_gid(): line for line in ax.lines}
    assert set(lines) == {
        "line:web", "line:cache", "line:web/server", "line:web/log-shipper", "line:cache/redis",
    }  # fmt: skip
    drawn = boxes(fig)

    def bottom_centre(gid: str) -> tuple[float, float]:
        box = drawn[gid]
        return box.get_x() + box.get_width() / 2, box.get_y()

    def top_centre(gid: str) -> tuple[float, float]:
        box = drawn[gid]
        return box.get_x() + box.get_width() / 2, box.get_y() + box.get_height()

    for child, parent in [
        ("group:web", "job"), ("group:cache", "job"), ("task:web/server", "group:web"),
        ("task:web/log-shipper", "group:web"), ("task:cache/redis", "group:cache"),
    ]:  # fmt: skip
        xs, ys = lines["line:" + child.split(":", 1)[1]].get_data()
        assert (xs[0], ys[0]) == pytest.approx(bottom_centre(parent))
        assert (xs[-1], ys[-1]) == pytest.approx(top_centre(child))


def test_every_label_fits_in_its_box_and_boxes_do_not_overlap() -> None:
    job = shop_job()
    job["TaskGroups"][1]["Tasks"].append(task("a-task-with-a-much-longer-name", "java"))
    fig = draw_hierarchy(job)
    fig.canvas.draw()
    drawn = boxes(fig)
    for text in fig.axes[0].texts:
        gid = text.get_gid() or ""
        if gid.count(":") < 1 or gid == "title":
            continue
        owner = gid.rsplit(":", 1)[0]
        inside, outside = extent(text), extent(drawn[owner])
        assert outside.x0 < inside.x0 and inside.x1 < outside.x1, (gid, text.get_text())
        assert outside.y0 < inside.y0 and inside.y1 < outside.y1, (gid, text.get_text())
    fronts = [extent(p) for g, p in drawn.items() if ":copy" not in g]
    for i, a in enumerate(fronts):
        for b in fronts[i + 1 :]:
            assert not a.overlaps(b)
    figure = fig.bbox
    assert all(figure.contains(b.x0, b.y0) and figure.contains(b.x1, b.y1) for b in fronts)


def test_picture_renders_as_png_for_jupyter_with_the_tree_in_words() -> None:
    picture = draw_hierarchy(tutorial_job())
    assert picture._repr_png_().startswith(b"\x89PNG\r\n\x1a\n")
    assert picture.alt == (
        'Job "http-microservice" (type service, datacenters dc1). Group "echo" (count 1) holds '
        'task "server" (driver: docker; ports: http (dynamic, task network); '
        "cpu 100 MHz, memory 300 MB)."
    )
    assert picture._repr_mimebundle_()[1] == {"image/png": {"alt": picture.alt}}


def test_input_is_not_modified() -> None:
    job = shop_job()
    before = copy.deepcopy(job)
    hierarchy_text(job)
    draw_hierarchy(job)
    assert job == before


def test_a_job_without_groups_still_draws() -> None:
    fig = draw_hierarchy({"ID": "empty"})
    assert set(boxes(fig)) == {"job"}
    assert "(no task groups)" in [t.get_text() for t in fig.axes[0].texts]


# -- jobs as the agent parses them ----------------------------------------------------------------

TWO_GROUPS = """
job "shop" {
  datacenters = ["dc1"]
  group "web" {
    count = 2
    network {
      port "http" {}
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}"]
      }
    }
  }
  group "cache" {
    network {
      port "db" {
        static = 6379
      }
    }
    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
        ports = ["db"]
      }
    }
  }
}
"""


def test_jobs_parsed_by_the_agent(client: nomad.Nomad) -> None:
    tutorial = client.jobs.parse((JOBS / "microservice.nomad").read_text(), True)
    assert hierarchy_text(tutorial) == hierarchy_text(tutorial_job())
    echo = client.jobs.request(
        "parse",
        method="post",
        json={
            "JobHCL": (JOBS / "http-echo.nomad.hcl").read_text(),
            "Canonicalize": True,
            "Variables": "count = 3\n",
        },
    ).json()
    text = hierarchy_text(echo)
    assert '└── group "echo"\n    │ count 3\n    │ network: http (dynamic)\n' in text
    assert "driver: raw_exec\n          ports: http (group network)\n" in text
    two = client.jobs.parse(TWO_GROUPS, True)
    fig = draw_hierarchy(two)
    assert texts(fig, "group:web")[:2] == ['group "web"', "count 2"]
    assert texts(fig, "group:cache") == ['group "cache"', "count 1", "network: db (static 6379)"]
    assert texts(fig, "task:cache/redis")[1] == "driver: docker"
    raw = client.jobs.parse(TWO_GROUPS, False)  # not canonicalised: no count, no resources
    assert '└── group "cache"\n    │ count 1\n' in hierarchy_text(raw)
    assert "MHz" not in hierarchy_text(raw)
