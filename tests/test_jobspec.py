"""The practice agent's jobspecs: what a learner sees from parse, defaults and validation."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from nomadlab.practice.jobspec import (
    JobspecError,
    canonicalize,
    duration_ns,
    format_errors,
    parse,
    parse_with_warnings,
    validate,
)

JOBS = Path(__file__).resolve().parent.parent / "jobs"
MICROSERVICE = (JOBS / "microservice.nomad").read_text()
HTTP_ECHO = (JOBS / "http-echo.nomad.hcl").read_text()
S = 1_000_000_000
TASK_NETWORK_WARNING = (
    "task network resources have been deprecated as of Nomad 0.12.0. "
    "Please configure networking via group network block."
)


def job_hcl(group_body: str = "", job_body: str = "", task_body: str = "") -> str:
    """A small valid jobspec with room for extra settings at each level."""
    return f"""
job "web" {{
  datacenters = ["dc1"]
  {job_body}
  group "app" {{
    {group_body}
    task "server" {{
      driver = "raw_exec"
      config {{
        command = "python3"
      }}
      {task_body}
    }}
  }}
}}
"""


def only_task(job: dict) -> dict:
    (group,) = job["TaskGroups"]
    (task,) = group["Tasks"]
    return task


def json_job(**fields: object) -> dict:
    """A job as a client would PUT it to /v1/jobs: only what it bothers to set."""
    job = {"ID": "web", "TaskGroups": [{"Name": "app", "Tasks": [{"Name": "t", "Driver": "d"}]}]}
    job.update(fields)
    return job


# --- the tutorial's jobs ---------------------------------------------------------------------


def test_microservice_task_network_becomes_a_dynamic_port_of_the_task():
    job, warnings = parse_with_warnings(MICROSERVICE)
    assert (job["ID"], job["Name"], job["Datacenters"]) == (
        "http-microservice",
        "http-microservice",
        ["dc1"],
    )
    task = only_task(job)
    assert task["Driver"] == "docker"
    assert task["Config"]["image"] == "hashicorp/http-echo:latest"
    (network,) = task["Resources"]["Networks"]
    assert network["MBits"] == 10
    assert network["DynamicPorts"] == [
        {"Label": "http", "Value": 0, "To": 0, "HostNetwork": "", "IgnoreCollision": False}
    ]
    assert network["ReservedPorts"] is None
    assert warnings == [TASK_NETWORK_WARNING]


def test_microservice_keeps_runtime_references_for_the_client():
    task = only_task(parse(MICROSERVICE))
    assert task["Config"]["args"] == [
        "-listen",
        ":${NOMAD_PORT_http}",
        "-text",
        "Hello and welcome to ${NOMAD_IP_http} running on port ${NOMAD_PORT_http}",
    ]


def test_http_echo_uses_variable_defaults_and_a_group_port():
    job, warnings = parse_with_warnings(HTTP_ECHO)
    (group,) = job["TaskGroups"]
    assert group["Count"] == 1
    assert group["Networks"][0]["DynamicPorts"][0]["Label"] == "http"
    task = only_task(job)
    assert task["Config"]["command"] == "python3"
    assert "${NOMAD_IP_http}:${NOMAD_PORT_http}" in task["Config"]["args"]
    assert task["Resources"] == {"CPU": 100, "MemoryMB": 64}
    assert warnings == []


@pytest.mark.parametrize(
    "variables",
    [
        'python = "/usr/bin/python3"\ncount = 3\n',
        {"python": "/usr/bin/python3", "count": "3"},
    ],
    ids=["Variables string", "dict"],
)
def test_http_echo_variables_override_defaults_with_their_declared_type(variables):
    job = parse(HTTP_ECHO, variables)
    count = job["TaskGroups"][0]["Count"]
    assert count == 3 and type(count) is int
    assert only_task(job)["Config"]["command"] == "/usr/bin/python3"


def test_embedded_variable_becomes_text_and_escaped_interpolation_stays_literal():
    hcl = 'variable "n" {\n  type = number\n  default = 2\n}\n' + job_hcl(
        task_body='env {\n  COPIES = "${var.n} copies"\n  RAW = "$${var.n}"\n}'
    )
    assert only_task(parse(hcl))["Env"] == {"COPIES": "2 copies", "RAW": "${var.n}"}


def test_unquoted_name_is_kept_as_an_undefined_reference_like_nomad():
    task = only_task(parse(job_hcl().replace('driver = "raw_exec"', "driver = raw_exec")))
    assert task["Driver"] == "${raw_exec}"


# --- variables that go wrong -------------------------------------------------------------------


def test_variable_without_value_or_default_is_unset():
    with pytest.raises(JobspecError, match='Unset variable "python"'):
        parse(HTTP_ECHO.replace('default     = "python3"', ""))


@pytest.mark.parametrize(
    "variables",
    ['pyhton = "/usr/bin/python3"', {"pyhton": "/usr/bin/python3"}],
    ids=["Variables string", "dict"],
)
def test_value_for_an_undeclared_variable_is_refused(variables):
    with pytest.raises(JobspecError, match='"pyhton" variable') as caught:
        parse(HTTP_ECHO, variables)
    assert "Undefined" in str(caught.value)


@pytest.mark.parametrize("variables", ['count = "three"', {"count": "three"}])
def test_value_of_the_wrong_type_names_the_variable(variables):
    with pytest.raises(JobspecError, match="for count is not compatible") as caught:
        parse(HTTP_ECHO, variables)
    assert "a number is required" in str(caught.value)


def test_reference_to_an_undeclared_variable():
    with pytest.raises(JobspecError, match='attribute named "cnt"'):
        parse(HTTP_ECHO.replace("count = var.count", "count = var.cnt"))


def test_expression_on_a_variable_is_refused_rather_than_kept_unevaluated():
    with pytest.raises(JobspecError, match=r"\$\{var.count \+ 1\}"):
        parse(HTTP_ECHO.replace("count = var.count", "count = var.count + 1"))


def test_unquoted_path_in_variables_string_is_an_hcl_error():
    with pytest.raises(JobspecError, match=r"^Failed to parse job: unable to parse var content"):
        parse(HTTP_ECHO, "python = /usr/bin/python3")


# --- parse errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "  \n\t"])
def test_empty_spec(text):
    with pytest.raises(JobspecError, match=r"^Job spec is empty$"):
        parse(text)


def test_syntax_error_reports_where():
    with pytest.raises(JobspecError) as caught:
        parse('job "web" {\n  group "app" {\n  count = \n}')
    assert str(caught.value) == (
        "Failed to parse job: input.hcl:3,11-4,1: Invalid expression; Expected the start of an "
        "expression, but found an invalid expression token."
    )


# The mistakes learners make, on the tutorial's own job: HCL's summary, detail and range.
ECHO_LINES = HTTP_ECHO.splitlines()
JOB_LABEL = '"http-microservice"'


def echo_line(fragment: str) -> int:
    return next(n for n, line in enumerate(ECHO_LINES, start=1) if fragment in line)


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (
            lambda t: t.rstrip().removesuffix("}"),
            f"input.hcl:{echo_line('job ' + JOB_LABEL)},25-26: Unclosed configuration "
            "block; There is no closing brace for this block before the end of the file. This "
            "may be caused by incorrect brace nesting elsewhere in this file.",
        ),
        (
            lambda t: t.replace('"-m", "nomadlab.echo",', '"-m", "nomadlab.echo,'),
            f"input.hcl:{echo_line('nomadlab.echo')},32-{echo_line('nomadlab.echo') + 1},1: "
            "Invalid multi-line string; Quoted strings may not be split over multiple lines. To "
            "produce a multi-line string, either use the \\n escape to represent a newline "
            'character or use the "heredoc" multi-line template syntax.',
        ),
        (
            lambda t: t.replace('driver = "raw_exec"', 'driver "raw_exec"'),
            f"input.hcl:{echo_line('driver = ')},24-{echo_line('driver = ') + 1},1: Invalid block "
            'definition; A block definition must have block content delimited by "{" and "}", '
            "starting on the same line as the block header.",
        ),
        (
            lambda t: t.replace("    network {", "    netwrk {"),
            f'input.hcl:{echo_line("network {")},5-11: Unsupported block type; Blocks of type '
            '"netwrk" are not expected here. Did you mean "network"?',
        ),
        (
            lambda t: t.replace("cpu    = 100", 'cpu    = "lots"'),
            f"input.hcl:{echo_line('cpu    =')},18-24: Unsuitable value type; Unsuitable value: "
            "a number is required",
        ),
        (
            lambda t: t.replace('driver = "raw_exec"', 'drivr = "raw_exec"'),
            f'input.hcl:{echo_line("driver = ")},7-12: Unsupported argument; An argument named '
            '"drivr" is not expected here. Did you mean "driver"?',
        ),
    ],
    ids=["unclosed block", "unterminated string", "missing =", "unknown block", "wrong type",
         "misspelled attribute"],
)  # fmt: skip
def test_hcl_mistakes_read_like_nomads_diagnostics(mistake, expected):
    with pytest.raises(JobspecError) as caught:
        parse(mistake(HTTP_ECHO), 'python = "python3"\n')
    assert str(caught.value) == f"Failed to parse job: {expected}"


def test_a_map_entry_without_equals_is_a_missing_separator():
    with pytest.raises(JobspecError) as caught:
        parse('job "x" {\n  meta = { owner "me" }\n  group "g" {}\n}\n')
    assert str(caught.value).startswith(
        "Failed to parse job: input.hcl:2,18-19: Missing key/value separator; "
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('variable "x" {\n  default = 1\n}\n', "Missing job block"),
        ('job "a" {}\njob "b" {}\n', "Duplicate job block"),
        ("job {\n}\n", "Missing name for job"),
        ('job "a" {\n  group {\n    count = 1\n  }\n}\n', "Missing name for group"),
        ('locals {\n  a = 1\n}\njob "a" {}\n', "locals are not supported"),
    ],
)
def test_job_structure_errors(text, expected):
    with pytest.raises(JobspecError, match=expected):
        parse(text)


@pytest.mark.parametrize(
    ("hcl", "key", "block"),
    [
        (job_hcl(job_body='datacentres = ["dc1"]'), "datacentres", 'job "web"'),
        (job_hcl(group_body="cont = 2"), "cont", 'group "app"'),
        (job_hcl(task_body='drivr = "exec"'), "drivr", 'task "server"'),
        (job_hcl(task_body="resources {\n cpus = 2\n}"), "cpus", "resources"),
        (job_hcl(group_body="netwrk {\n}"), "netwrk", 'group "app"'),
    ],
)
def test_typo_in_a_key_names_the_key_and_its_block(hcl, key, block):
    with pytest.raises(JobspecError, match=f'named "{key}"|type "{key}"') as caught:
        parse(hcl)
    assert "not expected here" in str(caught.value)
    assert source_at(hcl, str(caught.value)) == key  # the range HCL gives: the key itself


def source_at(hcl: str, message: str) -> str:
    """The text an ``input.hcl:line,col-col:`` diagnostic points at."""
    match = re.match(r"Failed to parse job: input\.hcl:(\d+),(\d+)-(\d+): ", message)
    assert match, message
    line, start, end = (int(g) for g in match.groups())
    return hcl.splitlines()[line - 1][start - 1 : end - 1]


@pytest.mark.parametrize(
    ("hcl", "value"),
    [
        (job_hcl(group_body='count = "two"'), '"two"'),
        (job_hcl(task_body='kill_timeout = "10 seconds"'), '"10 seconds"'),
        (job_hcl().replace('datacenters = ["dc1"]', 'datacenters = "dc1"'), '"dc1"'),
    ],
)
def test_value_of_the_wrong_type_points_at_the_value(hcl, value):
    with pytest.raises(JobspecError, match="Unsuitable value") as caught:
        parse(hcl)
    assert source_at(hcl, str(caught.value)) == value


def test_single_block_given_twice():
    with pytest.raises(JobspecError, match="Duplicate update block"):
        parse(job_hcl(group_body="update {\n}\nupdate {\n}"))


# --- parse: the mapping to the API's Job ------------------------------------------------------


def test_two_groups_static_and_mapped_ports():
    hcl = """
job "shop" {
  name = "Shop"
  type = "service"
  priority = 70
  group "web" {
    count = 2
    network {
      mode = "host"
      port "http" {
        static = 8080
        to = 80
      }
      port "metrics" {}
    }
    task "nginx" {
      driver = "docker"
    }
  }
  group "db" {
    task "postgres" {
      driver = "docker"
      kill_timeout = "30s"
      kill_signal = "SIGINT"
    }
  }
}
"""
    job = parse(hcl)
    assert (job["ID"], job["Name"], job["Priority"]) == ("shop", "Shop", 70)
    assert [g["Name"] for g in job["TaskGroups"]] == ["web", "db"]
    web, db = job["TaskGroups"]
    assert web["Count"] == 2 and "Count" not in db
    (network,) = web["Networks"]
    assert network["Mode"] == "host"
    assert network["ReservedPorts"] == [
        {"Label": "http", "Value": 8080, "To": 80, "HostNetwork": "", "IgnoreCollision": False}
    ]
    assert [p["Label"] for p in network["DynamicPorts"]] == ["metrics"]
    postgres = db["Tasks"][0]
    assert (postgres["KillTimeout"], postgres["KillSignal"]) == (30 * S, "SIGINT")


def test_env_values_become_strings_block_or_attribute():
    block = only_task(
        parse(job_hcl(task_body="env {\n PORT = 8080\n DEBUG = true\n RATIO = 0.5\n}"))
    )
    assert block["Env"] == {"PORT": "8080", "DEBUG": "true", "RATIO": "0.5"}
    attribute = only_task(parse(job_hcl(task_body='env = { "app.port" = 8080 }')))
    assert attribute["Env"] == {"app.port": "8080"}


def test_resources_logs_restart_and_update_blocks():
    hcl = job_hcl(
        group_body=(
            'update {\n max_parallel = 2\n min_healthy_time = "2s"\n auto_revert = true\n}\n'
            'restart {\n attempts = 5\n delay = "1m30s"\n mode = "delay"\n}\n'
            'reschedule {\n delay_function = "fibonacci"\n max_delay = "2h"\n}\n'
            "ephemeral_disk {\n size = 500\n}\n"
        ),
        task_body=(
            "resources {\n cpu = 200\n memory = 128\n memory_max = 256\n}\n"
            "logs {\n max_files = 3\n max_file_size = 5\n}\n"
            'user = "nobody"\nleader = true\nmeta {\n team = "blue"\n}\n'
        ),
    )
    job = parse(hcl)
    group = job["TaskGroups"][0]
    assert group["Update"] == {"MaxParallel": 2, "MinHealthyTime": 2 * S, "AutoRevert": True}
    assert group["RestartPolicy"] == {"Attempts": 5, "Delay": 90 * S, "Mode": "delay"}
    assert group["ReschedulePolicy"] == {"DelayFunction": "fibonacci", "MaxDelay": 7200 * S}
    assert group["EphemeralDisk"] == {"SizeMB": 500}
    task = only_task(job)
    assert task["Resources"] == {"CPU": 200, "MemoryMB": 128, "MemoryMaxMB": 256}
    assert task["LogConfig"] == {"MaxFiles": 3, "MaxFileSizeMB": 5}
    assert (task["User"], task["Leader"], task["Meta"]) == ("nobody", True, {"team": "blue"})


def test_blocks_the_module_does_not_run_are_carried_in_go_field_names():
    hcl = job_hcl(
        job_body=(
            'constraint {\n attribute = "${attr.kernel.name}"\n value = "linux"\n}\n'
            "constraint {\n distinct_hosts = true\n}\n"
            'affinity {\n attribute = "${node.datacenter}"\n value = "dc1"\n weight = 80\n}\n'
            'spread {\n attribute = "${node.datacenter}"\n target "dc1" {\n percent = 100\n }\n}\n'
        ),
        group_body=(
            'volume "data" {\n type = "host"\n source = "data"\n}\n'
            'service {\n name = "web"\n port = "http"\n provider = "nomad"\n'
            ' check {\n type = "http"\n path = "/"\n interval = "10s"\n timeout = "2s"\n }\n}\n'
        ),
        task_body=(
            'template {\n data = "PORT={{ env \\"NOMAD_PORT_http\\" }}"\n'
            ' destination = "local/env"\n env = true\n}\n'
            'artifact {\n source = "https://example.com/app.tgz"\n}\n'
            'lifecycle {\n hook = "prestart"\n sidecar = false\n}\n'
            'vault {\n policies = ["read"]\n}\n'
            'volume_mount {\n volume = "data"\n destination = "/data"\n}\n'
        ),
    )
    job = parse(hcl)
    assert job["Constraints"] == [
        {"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="},
        {"LTarget": "", "RTarget": "true", "Operand": "distinct_hosts"},
    ]
    assert job["Affinities"][0]["Weight"] == 80
    assert job["Spreads"][0]["SpreadTarget"] == [{"Value": "dc1", "Percent": 100}]
    group = job["TaskGroups"][0]
    assert group["Volumes"] == {"data": {"Name": "data", "Type": "host", "Source": "data"}}
    (service,) = group["Services"]
    assert (service["Name"], service["PortLabel"], service["Provider"]) == ("web", "http", "nomad")
    assert service["Checks"][0]["Interval"] == 10 * S
    task = only_task(job)
    (template,) = task["Templates"]
    assert template["EmbeddedTmpl"] == 'PORT={{ env "NOMAD_PORT_http" }}'
    assert (template["DestPath"], template["Envvars"]) == ("local/env", True)
    assert task["Artifacts"] == [{"GetterSource": "https://example.com/app.tgz"}]
    assert task["Lifecycle"] == {"Hook": "prestart", "Sidecar": False}
    assert task["Vault"]["Policies"] == ["read"]
    assert task["VolumeMounts"] == [{"Volume": "data", "Destination": "/data"}]


def test_heredoc_keeps_its_text_and_final_newline():
    hcl = job_hcl(task_body='template {\n data = <<EOF\nA=1\nB=2\nEOF\n destination = "x"\n}')
    assert only_task(parse(hcl))["Templates"][0]["EmbeddedTmpl"] == "A=1\nB=2\n"


def test_task_directly_in_a_job_gets_a_group_of_its_own():
    job = parse('job "solo" {\n  task "only" {\n    driver = "raw_exec"\n  }\n}\n')
    assert [(g["Name"], [t["Name"] for t in g["Tasks"]]) for g in job["TaskGroups"]] == [
        ("only", ["only"])
    ]


def test_parse_with_canonicalize_is_the_api_half_of_canonicalize():
    api_only = parse(HTTP_ECHO, canonicalize=True)
    assert canonicalize(copy.deepcopy(api_only)) == canonicalize(parse(HTTP_ECHO))
    assert api_only["NodePool"] == "" and canonicalize(parse(HTTP_ECHO))["NodePool"] == "default"


# --- canonicalize --------------------------------------------------------------------------------


def test_canonicalize_fills_job_defaults():
    job = canonicalize(parse(HTTP_ECHO))
    expected = {
        "Region": "global",
        "Namespace": "default",
        "Type": "service",
        "Priority": 50,
        "NodePool": "default",
        "Stop": False,
        "AllAtOnce": False,
        "Datacenters": ["dc1"],
    }
    assert {key: job[key] for key in expected} == expected
    assert job["Update"] == {
        "Stagger": 30 * S,
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * S,
        "HealthyDeadline": 300 * S,
        "ProgressDeadline": 600 * S,
        "AutoRevert": False,
        "AutoPromote": False,
        "Canary": 0,
    }


def test_canonicalize_fills_group_and_task_defaults_of_a_service_job():
    job = canonicalize(parse(MICROSERVICE))
    group = job["TaskGroups"][0]
    assert group["EphemeralDisk"] == {"Sticky": False, "Migrate": False, "SizeMB": 300}
    assert group["RestartPolicy"] == {
        "Attempts": 2,
        "Interval": 1800 * S,
        "Delay": 15 * S,
        "Mode": "fail",
        "RenderTemplates": False,
    }
    assert group["ReschedulePolicy"] == {
        "Attempts": 0,
        "Interval": 0,
        "Delay": 30 * S,
        "DelayFunction": "exponential",
        "MaxDelay": 3600 * S,
        "Unlimited": True,
    }
    assert group["Update"] == job["Update"]
    task = only_task(job)
    assert task["KillTimeout"] == 5 * S
    assert task["LogConfig"] == {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False}
    assert {k: task["Resources"][k] for k in ("CPU", "MemoryMB", "Cores", "MemoryMaxMB")} == {
        "CPU": 100,
        "MemoryMB": 300,
        "Cores": 0,
        "MemoryMaxMB": 0,
    }
    assert task["Leader"] is False
    assert task["RestartPolicy"] == group["RestartPolicy"]
    port = task["Resources"]["Networks"][0]["DynamicPorts"][0]
    assert (port["HostNetwork"], port["To"], port["Value"]) == ("default", 0, 0)
    assert task["Config"]["image"] == "hashicorp/http-echo:latest"
    assert "Env" not in task and "Meta" not in task


def test_canonicalize_keeps_what_the_user_set():
    hcl = job_hcl(
        group_body='update {\n min_healthy_time = "2s"\n}\nrestart {\n attempts = 5\n}',
        task_body='resources {\n memory = 64\n}\nkill_timeout = "20s"',
    )
    job = canonicalize(parse(hcl))
    group = job["TaskGroups"][0]
    assert group["Update"]["MinHealthyTime"] == 2 * S
    assert group["Update"]["HealthyDeadline"] == 300 * S
    assert job["Update"]["MinHealthyTime"] == 10 * S
    assert (group["RestartPolicy"]["Attempts"], group["RestartPolicy"]["Delay"]) == (5, 15 * S)
    task = only_task(job)
    assert (task["Resources"]["MemoryMB"], task["Resources"]["CPU"]) == (64, 100)
    assert task["KillTimeout"] == 20 * S


def test_group_inherits_the_job_update_block():
    job = canonicalize(parse(job_hcl(job_body="update {\n max_parallel = 3\n}")))
    assert job["TaskGroups"][0]["Update"]["MaxParallel"] == 3


def test_batch_job_defaults():
    job = canonicalize(parse(job_hcl(job_body='type = "batch"')))
    group = job["TaskGroups"][0]
    assert job["Update"] is None and group["Update"] is None
    assert (group["RestartPolicy"]["Attempts"], group["RestartPolicy"]["Interval"]) == (
        3,
        24 * 3600 * S,
    )
    assert group["ReschedulePolicy"] == {
        "Attempts": 1,
        "Interval": 24 * 3600 * S,
        "Delay": 5 * S,
        "DelayFunction": "constant",
        "MaxDelay": 0,
        "Unlimited": False,
    }


def test_system_job_has_no_reschedule_policy():
    group = canonicalize(parse(job_hcl(job_body='type = "system"')))["TaskGroups"][0]
    assert group.get("ReschedulePolicy") is None
    assert group["RestartPolicy"]["Attempts"] == 2


def test_canonicalize_is_idempotent():
    once = canonicalize(parse(HTTP_ECHO))
    twice = canonicalize(json.loads(json.dumps(once)))
    assert twice == once


def test_canonicalize_accepts_a_sparse_json_job():
    job = canonicalize({"ID": "web", "TaskGroups": [{"Name": "app", "Tasks": [{}]}], "Meta": None})
    assert (job["Name"], job["Type"], job["Datacenters"]) == ("web", "service", ["*"])
    assert job["TaskGroups"][0]["Count"] == 1
    assert only_task(job)["Resources"]["CPU"] == 100
    assert canonicalize({})["TaskGroups"] == []


def test_canonicalize_treats_empty_server_fields_as_unset():
    job = canonicalize(json_job(Region="", Namespace="", Priority=0, Datacenters=[]))
    assert (job["Region"], job["Namespace"], job["Priority"], job["Datacenters"]) == (
        "global",
        "default",
        50,
        ["*"],
    )


@pytest.mark.parametrize(
    ("job", "field"),
    [
        (json_job(TaskGroups="app"), "Job.TaskGroups"),
        (json_job(TaskGroups=[{"Name": "app", "Count": "3"}]), "Job.TaskGroups[0].Count"),
        (json_job(Priority=True), "Job.Priority"),
        (
            json_job(TaskGroups=[{"Name": "g", "Tasks": [{"Name": "t", "KillTimeout": "5s"}]}]),
            "Job.TaskGroups[0].Tasks[0].KillTimeout",
        ),
        (json_job(Datacenters="dc1"), "Job.Datacenters"),
    ],
)
def test_canonicalize_refuses_fields_of_the_wrong_json_type(job, field):
    with pytest.raises(JobspecError, match=f"^json: cannot unmarshal .* field {re.escape(field)} "):
        canonicalize(job)


# --- validate ------------------------------------------------------------------------------------


def test_valid_jobs_have_no_errors():
    assert validate(parse(HTTP_ECHO)) == []
    assert validate(parse(MICROSERVICE)) == []
    assert validate(json_job()) == []


def test_validate_does_not_change_the_job():
    job = json_job()
    before = copy.deepcopy(job)
    validate(job)
    assert job == before


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        (json_job(ID=""), "Missing job ID"),
        (json_job(ID="my web"), "Job ID contains a space"),
        (json_job(Type="servce"), 'Invalid job type: "servce"'),
        (json_job(TaskGroups=[]), "Missing job task groups"),
        (json_job(Priority=101), "job priority must be between [1, 100]"),
        (json_job(Priority=-1), "job priority must be between [1, 100]"),
        (
            json_job(TaskGroups=[{"Tasks": [{"Name": "t", "Driver": "d"}]}]),
            "Job task group 1 missing name",
        ),
    ],
)
def test_job_level_errors(job, expected):
    assert expected in validate(job)


def test_duplicate_group_names():
    hcl = job_hcl().replace(
        'group "app"', 'group "app" {\n task "t" {\n driver = "d"\n }\n}\ngroup "app"', 1
    )
    assert "Job task group 2 redefines 'app' from group 1" in validate(parse(hcl))


def group_errors(job: dict) -> str:
    """The one validation error of a job with a single faulty group, Nomad's nested text."""
    (error,) = validate(job)
    assert error.startswith(
        f"Task group {job['TaskGroups'][0].get('Name', '')} validation failed: "
    )
    return error


def test_negative_count_and_missing_tasks_name_the_group():
    error = group_errors(json_job(TaskGroups=[{"Name": "app", "Count": -1}]))
    assert error == (
        "Task group app validation failed: 2 errors occurred:\n"
        "\t* Task group count can't be negative\n"
        "\t* Missing tasks for task group\n\n"
    )


def test_task_without_driver_or_name():
    tasks = [{"Name": "server"}, {"Driver": "raw_exec"}]
    error = group_errors(json_job(TaskGroups=[{"Name": "app", "Tasks": tasks}]))
    assert "Task 2 missing name" in error
    assert "Task server validation failed: 1 error occurred:\n\t* Missing task driver" in error


def test_duplicate_task_names():
    tasks = [{"Name": "server", "Driver": "d"}, {"Name": "server", "Driver": "d"}]
    error = group_errors(json_job(TaskGroups=[{"Name": "app", "Tasks": tasks}]))
    assert "Task 2 redefines 'server' from task 1" in error


def test_port_label_declared_twice():
    hcl = job_hcl(group_body='network {\n port "http" {}\n port "http" {\n static = 8080\n }\n}')
    assert "Port label http already in use by taskgroup network" in group_errors(parse(hcl))


def test_static_port_out_of_range():
    hcl = job_hcl(group_body='network {\n port "http" {\n static = 70000\n }\n}')
    assert "Port http (70000) cannot be greater than 65535" in group_errors(parse(hcl))


def test_same_static_port_twice():
    hcl = job_hcl(
        group_body='network {\n port "a" {\n static = 8080\n }\n port "b" {\n static = 8080\n }\n}'
    )
    assert "Static port 8080 already reserved by taskgroup network:a" in group_errors(parse(hcl))


def test_update_times_that_contradict_each_other():
    hcl = job_hcl(group_body='update {\n min_healthy_time = "10m"\n}')
    error = group_errors(parse(hcl))
    assert "Minimum healthy time must be less than healthy deadline: 10m0s > 5m0s" in error


def test_update_block_in_a_batch_job():
    hcl = job_hcl(job_body='type = "batch"', group_body="update {\n max_parallel = 2\n}")
    assert 'Job type "batch" does not allow update block' in group_errors(parse(hcl))


def test_too_little_memory_names_the_task():
    hcl = job_hcl(task_body="resources {\n memory = 5\n}")
    error = group_errors(parse(hcl))
    assert "Task server validation failed" in error
    assert "minimum MemoryMB value is 10; got 5" in error


def test_format_errors_is_nomads_multierror_text():
    assert format_errors(["Missing job ID"]) == "1 error occurred:\n\t* Missing job ID\n\n"
    assert format_errors(["a", "b"]) == "2 errors occurred:\n\t* a\n\t* b\n\n"


# --- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("10s", 10 * S),
        ("1m30s", 90 * S),
        ("5m", 300 * S),
        ("1h", 3600 * S),
        ("500ms", S // 2),
        ("1.5s", 3 * S // 2),
        ("250us", 250_000),
        ("0", 0),
        ("-2s", -2 * S),
        (7, 7),
        (None, None),
    ],
)
def test_duration_ns(text, ns):
    assert duration_ns(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10", 'missing unit in duration "10"'),
        ("10x", 'unknown unit "x" in duration "10x"'),
        ("soon", 'invalid duration "soon"'),
        ("", 'invalid duration ""'),
    ],
)
def test_duration_ns_refuses_what_go_refuses(text, message):
    with pytest.raises(JobspecError, match=message):
        duration_ns(text)
