"""``nomad job plan`` and ``nomad job history`` printouts, compared with Nomad's own examples
(the job plan docs and Get Started guide), from diffs the practice agent computes."""

from __future__ import annotations

import copy

from nomadlab.command.job_history import format_history
from nomadlab.command.job_plan import format_job_diff, format_plan, plan_exit_code
from nomadlab.practice import jobspec
from nomadlab.practice import plan as diffs

REDIS = """
job "example" {
  group "cache" {
    count = COUNT
    update { max_parallel = 1 }
    task "redis" {
      driver = "docker"
      config {
        image = "IMAGE"
        port_map { db = 6379 }
      }
      resources {
        cpu    = 500
        memory = MEMORY
      }
    }
  }
}
"""

CHECK_INDEX_HELP = """To submit the job with version verification run:

nomad job run -check-index {index} {path}

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid."""


def redis(image: str = "redis:3.2", count: int = 3, memory: int = 256) -> dict:
    hcl = REDIS.replace("IMAGE", image).replace("COUNT", str(count))
    job, _ = jobspec.parse_with_warnings(hcl.replace("MEMORY", str(memory)), canonicalize=True)
    return job


def updates(**counts: int) -> dict:
    return {"cache": diffs.desired_updates() | counts}


def planned(old: dict | None, new: dict, desired: dict, index: int, failed=None) -> dict:
    diff = diffs.job_diff(old, new)
    diffs.annotate(diff, desired)
    return {
        "Diff": diff,
        "Annotations": {"DesiredTGUpdates": desired},
        "FailedTGAllocs": failed,
        "JobModifyIndex": index,
        "Warnings": "",
    }


def test_an_image_change_prints_as_in_nomads_get_started_guide() -> None:
    plan = planned(redis(), redis("redis:4.0"), updates(DestructiveUpdate=1, Ignore=2), index=1127)
    expected = (
        '+/- Job: "example"\n'
        '+/- Task Group: "cache" (1 create/destroy update, 2 ignore)\n'
        '  +/- Task: "redis" (forces create/destroy update)\n'
        "    +/- Config {\n"
        '      +/- image:           "redis:3.2" => "redis:4.0"\n'
        '          port_map[0][db]: "6379"\n'
        "        }\n"
        "\n"
        "Scheduler dry-run:\n"
        "- All tasks successfully allocated.\n"
        "\n"
        "Job Modify Index: 1127\n" + CHECK_INDEX_HELP.format(index=1127, path="example.nomad")
    )
    assert format_plan(plan, "example.nomad") == expected
    assert plan_exit_code(plan) == 1


def test_a_count_change_that_does_not_fit_prints_as_in_the_plan_docs() -> None:
    failed = {
        "cache": {
            "NodesEvaluated": 1,
            "NodesExhausted": 1,
            "DimensionExhausted": {"cpu": 1},
            "CoalescedFailures": 2,
        }
    }
    plan = planned(
        redis(count=1), redis(count=8), updates(Place=7, InPlaceUpdate=1), 15, failed=failed
    )
    text = format_plan(plan, "example.nomad.hcl")
    assert text.startswith(
        '+/- Job: "example"\n'
        '+/- Task Group: "cache" (7 create, 1 in-place update)\n'
        '  +/- Count: "1" => "8" (forces create)\n'
        '      Task: "redis"\n'
        "\n"
        "Scheduler dry-run:\n"
        "- WARNING: Failed to place all allocations.\n"
        '  Task Group "cache" (failed to place 3 allocations):\n'
        "    * Resources exhausted on 1 nodes\n"
        '    * Dimension "cpu" exhausted on 1 nodes\n'
        "\n"
        "Job Modify Index: 15\n"
    )


def test_a_new_job_is_all_additions() -> None:
    plan = planned(None, redis(count=1), updates(Place=1), index=0)
    assert format_plan(plan, "example.nomad.hcl", run_args='-var="count=1" ').startswith(
        '+ Job: "example"\n'
        '+ Task Group: "cache" (1 create)\n'
        '  + Task: "redis" (forces create)\n'
        "\n"
        "Scheduler dry-run:\n"
        "- All tasks successfully allocated.\n"
        "\n"
        "Job Modify Index: 0\n"
        "To submit the job with version verification run:\n"
        "\n"
        'nomad job run -check-index 0 -var="count=1" example.nomad.hcl\n'
    )


def test_no_change_exits_zero() -> None:
    plan = planned(redis(), copy.deepcopy(redis()), updates(Ignore=3), index=9)
    assert plan["Diff"]["Type"] == "None"
    assert plan_exit_code(plan) == 0
    assert format_job_diff(plan["Diff"]).startswith(
        'Job: "example"\nTask Group: "cache" (3 ignore)'
    )


def test_history_with_diffs_prints_as_in_the_job_history_docs() -> None:
    v0, v1 = redis(memory=256), redis(memory=512)
    for version, job in enumerate((v0, v1)):
        job.update(Version=version, Stable=version == 0, SubmitTime=0)
    text = format_history([v1, v0], [diffs.job_diff(v0, v1)])
    assert text == (
        "Version     = 1\n"
        "Stable      = false\n"
        "Submit Date =\n"
        "Diff        =\n"
        '+/- Job: "example"\n'
        '+/- Task Group: "cache"\n'
        '  +/- Task: "redis"\n'
        "    +/- Resources {\n"
        '          CPU:      "500"\n'
        '          Cores:    "0"\n'
        '      +/- MemoryMB: "256" => "512"\n'
        "        }\n"
        "\n"
        "Version     = 0\n"
        "Stable      = true\n"
        "Submit Date ="
    )
