"""Job registration and scaling as Nomad's Job endpoint enforces them: scaling policy bounds
(nomad/job_endpoint.go Job.Scale, structs TaskGroup.validateScalingPolicy), namespaces and job
submissions, through python-nomad and plain HTTP against a real practice agent."""

from __future__ import annotations

import sys

import nomad
import pytest
import requests
from conftest import raw_exec_job, wait_for
from nomad.api import exceptions

from nomadlab.practice import Agent, jobspec

SLEEP = [sys.executable, ["-c", "import time; time.sleep(3600)"]]


def sleeper(job_id: str = "web", count: int = 1) -> dict:
    """A batch job (no deployment to wait for before scaling) of sleeping tasks."""
    return raw_exec_job(job_id, count, *SLEEP) | {"Type": "batch"}


def scaled_job(count: int, minimum: int | None, maximum: int | None, job_id: str = "web") -> dict:
    job = sleeper(job_id, count)
    policy = {"Type": "horizontal", "Enabled": True}
    if minimum is not None:
        policy["Min"] = minimum
    if maximum is not None:
        policy["Max"] = maximum
    job["TaskGroups"][0]["Scaling"] = policy
    return job


def scale_body(count: int | None, **extra: object) -> dict:
    return {"Count": count, "Target": {"Group": "g"}, **extra}


def scale(client: nomad.Nomad, job_id: str, count: int | None, **extra: object) -> dict:
    """``POST /v1/job/:id/scale`` on group "g" (python-nomad has no method for it)."""
    body = scale_body(count, **extra)
    return client.job.request(job_id, "scale", method="post", json=body).json()


def scale_events(client: nomad.Nomad, job_id: str) -> list[dict] | None:
    status = client.job.request(job_id, "scale", method="get").json()
    return status["TaskGroups"]["g"]["Events"]


def refusal(call: object) -> tuple[int, str]:
    with pytest.raises(exceptions.BaseNomadException) as raised:
        call()  # type: ignore[operator]
    return raised.value.nomad_resp.status_code, raised.value.nomad_resp.text


# --- structs validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "minimum", "maximum", "expected"),
    [
        (5, 5, 5, []),
        (
            5,
            10,
            0,
            [
                "Scaling policy invalid: maximum count must not be less than minimum count",
                "Scaling policy invalid: task group count must not be greater than maximum "
                "count in scaling policy",
                "Scaling policy invalid: task group count must not be less than minimum count "
                "in scaling policy",
            ],
        ),
        (
            5,
            5,
            0,
            [
                "Scaling policy invalid: maximum count must not be less than minimum count",
                "Scaling policy invalid: task group count must not be greater than maximum "
                "count in scaling policy",
            ],
        ),
        (
            0,
            5,
            5,
            [
                "Scaling policy invalid: task group count must not be less than minimum count "
                "in scaling policy"
            ],
        ),
        (
            1,
            1,
            None,
            [
                "Scaling policy invalid: maximum count must be specified and non-negative",
                "Scaling policy invalid: task group count must not be greater than maximum "
                "count in scaling policy",
            ],
        ),
        (0, 0, 0, []),
        (0, 0, 10, []),
    ],
)
def test_group_count_and_policy_bounds_are_validated(
    count: int, minimum: int, maximum: int | None, expected: list[str]
) -> None:
    """Follows structs_test.go TestJob_ValidateScaling and TestScalingPolicy_Validate (min/max
    cases): each error is prefixed and nested under the group, as Nomad's multierror prints."""
    errors = jobspec.validate(scaled_job(count, minimum, maximum))
    if not expected:
        assert errors == []
        return
    (group_error,) = errors
    assert group_error.startswith("Task group g validation failed: ")
    assert "Task group scaling policy validation failed: " in group_error
    for text in expected:
        assert text in group_error
    assert group_error.count("Scaling policy invalid:") == len(expected)


def test_scaling_policy_type_must_be_horizontal() -> None:
    """Follows structs_test.go TestScalingPolicy_Validate ("invalid type")."""
    job = scaled_job(1, 1, 2)
    job["TaskGroups"][0]["Scaling"]["Type"] = "not valid"
    (error,) = jobspec.validate(job)
    assert 'Scaling policy invalid: scaling policy type "not valid" is not valid' in error


def test_register_outside_the_policy_is_refused(client: nomad.Nomad) -> None:
    """Follows structs_test.go TestJob_ValidateScaling through Job.Register: registration
    fails (500, the validation's multierror) and nothing is stored."""
    status, text = refusal(lambda: client.jobs.register_job({"Job": scaled_job(7, 1, 3)}))
    assert status == 500
    assert "task group count must not be greater than maximum count in scaling policy" in text
    assert client.jobs.get_jobs() == []


def test_min_defaults_to_the_group_count(client: nomad.Nomad) -> None:
    """api ScalingPolicy.Canonicalize: a policy without ``min`` takes the group's count."""
    client.jobs.register_job({"Job": scaled_job(2, None, 4)})
    policy = client.job.get_job("web")["TaskGroups"][0]["Scaling"]
    assert (policy["Min"], policy["Max"]) == (2, 4)


# --- Job.Scale ---------------------------------------------------------------------------------


def test_scale_out_of_bounds_is_refused(client: nomad.Nomad) -> None:
    """Follows job_endpoint_test.go TestJobEndpoint_Scale_OutOfBounds: min 3, max 10, count 5."""
    client.jobs.register_job({"Job": scaled_job(5, 3, 10)})
    assert refusal(lambda: scale(client, "web", 11, Message="out of bounds")) == (
        400,
        "group count was greater than scaling policy maximum: 11 > 10",
    )
    assert refusal(lambda: scale(client, "web", 2, Message="out of bounds")) == (
        400,
        "group count was less than scaling policy minimum: 2 < 3",
    )
    job = client.job.get_job("web")
    assert (job["Version"], job["TaskGroups"][0]["Count"]) == (0, 5)
    response = scale(client, "web", 10, Message="in bounds")
    assert response["EvalID"]
    assert client.job.get_job("web")["TaskGroups"][0]["Count"] == 10


def test_scale_records_the_event_with_the_previous_count(client: nomad.Nomad) -> None:
    """Follows TestJobEndpoint_Scale: an evaluation created after the job's new version, and
    one scaling event with the previous count."""
    client.jobs.register_job({"Job": sleeper()})
    meta = {"metrics": {"1": "a", "2": "b"}, "other": "value"}
    response = scale(client, "web", 2, Message="because of the load", Meta=meta)
    assert response["EvalID"]
    assert response["EvalCreateIndex"] > response["JobModifyIndex"]
    (event,) = scale_events(client, "web")
    assert (event["PreviousCount"], event["Count"], event["EvalID"]) == (1, 2, response["EvalID"])
    assert event["Meta"] == meta


def test_scale_with_a_stale_modify_index_is_refused(agent: Agent, client: nomad.Nomad) -> None:
    """Follows TestJobEndpoint_ScaleEnforceIndex: no event is recorded."""
    client.jobs.register_job({"Job": sleeper()})
    index = client.job.get_job("web")["JobModifyIndex"]
    answer = requests.post(
        f"{agent.address}/v1/job/web/scale",
        json=scale_body(2, JobModifyIndex=1000000),
        timeout=30,
    )
    assert answer.status_code == 500
    assert answer.text == (
        f"Enforcing job modify index 1000000: job exists with conflicting job modify index: {index}"
    )
    assert scale_events(client, "web") is None


def test_scale_with_error_and_count_is_refused(agent: Agent, client: nomad.Nomad) -> None:
    """Follows TestJobEndpoint_Scale_Invalid: unknown job first, then count with Error."""
    answer = requests.post(f"{agent.address}/v1/job/web/scale", json=scale_body(2), timeout=30)
    assert (answer.status_code, answer.text) == (404, 'job "web" not found')
    client.jobs.register_job({"Job": sleeper()})
    answer = requests.post(
        f"{agent.address}/v1/job/web/scale",
        json=scale_body(10, Error=True, Message="error message"),
        timeout=30,
    )
    assert (answer.status_code, answer.text) == (
        400,
        "scaling action should not contain count if error is true",
    )


def test_informational_event_without_count(agent: Agent, client: nomad.Nomad) -> None:
    """Follows TestJobEndpoint_Scale_NoEval / InformationalEventsShouldNotBeBlocked: no count,
    no new version, no evaluation, but the event is kept."""
    client.jobs.register_job({"Job": sleeper()})
    answer = requests.post(
        f"{agent.address}/v1/job/web/scale",
        json=scale_body(None, Message="no count", Error=True),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["EvalID"] == ""
    (event,) = scale_events(client, "web")
    assert (event["Error"], event["Message"], event["EvalID"]) == (True, "no count", None)
    assert client.job.get_job("web")["Version"] == 0


def test_system_job_scales_between_zero_and_one(agent: Agent, client: nomad.Nomad) -> None:
    """Follows TestJobEndpoint_Scale_SystemJob."""
    job = raw_exec_job("sys", 1, *SLEEP)
    job["Type"] = "system"
    client.jobs.register_job({"Job": job})
    scale(client, "sys", 0)
    assert refusal(lambda: scale(client, "sys", -5)) == (
        400,
        "scaling action count can't be negative",
    )
    scale(client, "sys", 1)
    assert refusal(lambda: scale(client, "sys", 13)) == (
        400,
        'jobs of type "system" can only be scaled between 0 and 1',
    )


@pytest.mark.parametrize(
    ("target", "text"),
    [
        ({"Group": "g", "Job": "other"}, "job ID in payload did not match URL"),
        ({"Group": "g", "Namespace": "elsewhere"}, "namespace in payload did not match header"),
    ],
)
def test_scale_target_must_match_the_request(
    agent: Agent, client: nomad.Nomad, target: dict, text: str
) -> None:
    """command/agent jobScaleAction and structs JobScaleRequest.Validate."""
    client.jobs.register_job({"Job": sleeper()})
    answer = requests.post(
        f"{agent.address}/v1/job/web/scale", json={"Count": 2, "Target": target}, timeout=30
    )
    assert (answer.status_code, answer.text) == (400, text)


# --- namespaces --------------------------------------------------------------------------------


def test_namespace_create_read_list_update(agent: Agent, client: nomad.Nomad) -> None:
    """Follows command/agent namespace_endpoint_test.go TestHTTP_NamespaceCreate, _Query,
    _List and _Update: the name in the path must match the body's; CreateIndex stays."""
    client.namespace.create_namespace({"Name": "team-a", "Description": "first"})
    created = client.namespace.get_namespace("team-a")
    assert created["Description"] == "first"
    assert created["CreateIndex"] == created["ModifyIndex"] > 1
    assert created["Hash"]
    assert [n["Name"] for n in client.namespaces.get_namespaces()] == ["default", "team-a"]
    assert [n["Name"] for n in client.namespaces.get_namespaces(prefix="te")] == ["team-a"]
    client.namespace.update_namespace("team-a", {"Name": "team-a", "Meta": {"k": "v"}})
    updated = client.namespace.get_namespace("team-a")
    assert updated["Meta"] == {"k": "v"}
    assert updated["CreateIndex"] == created["CreateIndex"] < updated["ModifyIndex"]
    assert updated["Hash"] != created["Hash"]
    answer = requests.put(
        f"{agent.address}/v1/namespace/team-a", json={"Name": "team-b"}, timeout=30
    )
    assert (answer.status_code, answer.text) == (400, "Namespace name does not match request path")
    answer = requests.get(f"{agent.address}/v1/namespace/nope", timeout=30)
    assert (answer.status_code, answer.text) == (404, "Namespace not found")


def test_default_namespace_is_nomads(client: nomad.Nomad) -> None:
    """state_store.go namespaceInit: written at index 1 with Nomad's description; its Hash is
    Namespace.SetHash's blake2b-256 of name and description."""
    default = client.namespace.get_namespace("default")
    assert default["Description"] == "Default shared namespace"
    assert (default["CreateIndex"], default["ModifyIndex"]) == (1, 1)
    assert default["Hash"] == "C7UbjDwBK0dK8wQq7Izg7SJIzaV+lIo2X7wRtzY3pSw="


@pytest.mark.parametrize(
    "name", ["", "has space", "a" * 129, "\x00", "ünï"], ids=["empty", "space", "long", "nul", "u"]
)
def test_namespace_name_must_match_nomads_rule(agent: Agent, name: str) -> None:
    """structs Namespace.Validate: 1-128 letters, digits and dashes (Invalid namespace %q)."""
    answer = requests.post(f"{agent.address}/v1/namespace", json={"Name": name}, timeout=30)
    assert answer.status_code == 500
    assert answer.text.startswith("Invalid namespace ")
    assert "Must match regex ^[a-zA-Z0-9-]{1,128}$" in answer.text
    assert [
        n["Name"] for n in requests.get(f"{agent.address}/v1/namespaces", timeout=30).json()
    ] == ["default"]


def test_quota_needs_a_specification(agent: Agent) -> None:
    """Nomad CE has no quota specifications, so a namespace naming one is refused."""
    answer = requests.post(
        f"{agent.address}/v1/namespace", json={"Name": "q", "Quota": "small"}, timeout=30
    )
    assert (answer.status_code, answer.text) == (
        500,
        'namespace "q" using non-existent quota "small"',
    )


def test_jobs_run_and_purge_in_a_created_namespace(client: nomad.Nomad) -> None:
    """Jobs in a namespace other than default: registered, read, listed and purged with
    ``?namespace=``, invisible from default."""
    client.namespace.create_namespace({"Name": "team-a"})
    job = sleeper() | {"Namespace": "team-a"}
    client.jobs.register_job({"Job": job})
    assert client.job.get_job("web", namespace="team-a")["Namespace"] == "team-a"
    assert client.jobs.get_jobs() == []
    assert [j["ID"] for j in client.jobs.get_jobs(namespace="team-a")] == ["web"]
    assert [j["Namespace"] for j in client.jobs.get_jobs(namespace="*")] == ["team-a"]
    client.job.deregister_job("web", purge=True, namespace="team-a")
    assert client.jobs.get_jobs(namespace="*") == []


def test_namespace_with_live_jobs_cannot_be_deleted(agent: Agent, client: nomad.Nomad) -> None:
    """Follows nomad namespace_endpoint_test.go DeleteNamespaces_NonTerminal_Local and
    TestNamespaceEndpoint_DeleteNamespaces: refused while a job is not dead, then deleted."""
    client.namespace.create_namespace({"Name": "team-a"})
    client.jobs.register_job({"Job": sleeper() | {"Namespace": "team-a"}})
    answer = requests.delete(f"{agent.address}/v1/namespace/team-a", timeout=30)
    assert answer.status_code == 500
    assert answer.text.startswith("1 error occurred:\n\t* ") or answer.text.startswith(
        "2 errors occurred:\n\t* "
    )
    assert 'namespace "team-a" has non-terminal jobs in regions: [global]' in answer.text
    client.job.deregister_job("web", purge=True, namespace="team-a")
    wait_for(
        lambda: requests.delete(f"{agent.address}/v1/namespace/team-a", timeout=30).ok,
        what="the namespace's allocations to stop",
    )
    assert "team-a" not in [n["Name"] for n in client.namespaces.get_namespaces()]
    answer = requests.delete(f"{agent.address}/v1/namespace/team-a", timeout=30)
    assert (answer.status_code, answer.text) == (500, "namespace not found")


def test_default_namespace_cannot_be_deleted(agent: Agent) -> None:
    """Follows TestNamespaceEndpoint_DeleteNamespaces_Default."""
    answer = requests.delete(f"{agent.address}/v1/namespace/default", timeout=30)
    assert (answer.status_code, answer.text) == (500, "can not delete default namespace")


@pytest.mark.parametrize(
    ("namespace", "quoted"),
    [("foo", '"foo"'), ("\x00", '"\\x00"'), ("n" * 70_000, '"' + "n" * 70_000 + '"')],
    ids=["foo", "nul", "70000"],
)
def test_job_in_a_nonexistent_namespace_is_refused(
    client: nomad.Nomad, namespace: str, quoted: str
) -> None:
    """Follows job_endpoint_test.go TestJobEndpoint_Register_InvalidNamespace: nothing is
    stored, so no job is left that its URL could not reach."""
    job = sleeper() | {"Namespace": namespace}
    status, text = refusal(lambda: client.jobs.register_job({"Job": job}))
    assert status == 500
    assert text == f'1 error occurred:\n\t* job "web" is in nonexistent namespace {quoted}\n\n'
    assert client.jobs.get_jobs(namespace="*") == []


def test_namespace_capabilities_limit_task_drivers(client: nomad.Nomad) -> None:
    """job_endpoint_validators.go jobNamespaceConstraintCheckHook: a disabled driver."""
    client.namespace.create_namespace(
        {"Name": "locked", "Capabilities": {"DisabledTaskDrivers": ["raw_exec"]}}
    )
    job = sleeper() | {"Namespace": "locked"}
    status, text = refusal(lambda: client.jobs.register_job({"Job": job}))
    assert (status, text) == (
        500,
        '1 error occurred:\n\t* used task driver "raw_exec" is not allowed in namespace '
        '"locked"\n\n',
    )


# --- job submissions ---------------------------------------------------------------------------


def submission_of(agent: Agent, job_id: str, version: object, **params: str) -> requests.Response:
    return requests.get(
        f"{agent.address}/v1/job/{job_id}/submission",
        params={"version": version, **params},
        timeout=30,
    )


def test_each_version_keeps_its_submission(agent: Agent, client: nomad.Nomad) -> None:
    """Follows job_endpoint_test.go TestJobEndpoint_GetJobSubmission: two versions with their
    own source and variables, none for a version that does not exist, none after a purge."""
    first = {
        "Source": 'job "web" { group "g1" {} }',
        "Format": "hcl2",
        "VariableFlags": {"one": "1"},
        "Variables": "two = 2",
    }
    client.jobs.register_job({"Job": sleeper(), "Submission": first})
    index_v0 = client.job.get_job("web")["JobModifyIndex"]
    second = {
        "Source": 'job "web" { group "g2" {} }',
        "Format": "hcl2",
        "VariableFlags": {"three": "3"},
        "Variables": "four = 4",
    }
    client.jobs.register_job({"Job": sleeper(count=2), "Submission": second})
    index_v1 = client.job.get_job("web")["JobModifyIndex"]
    v0 = submission_of(agent, "web", 0).json()
    assert v0 == first | {
        "Namespace": "default",
        "JobID": "web",
        "Version": 0,
        "JobModifyIndex": index_v0,
    }
    v1 = submission_of(agent, "web", 1)
    assert v1.json() == second | {
        "Namespace": "default",
        "JobID": "web",
        "Version": 1,
        "JobModifyIndex": index_v1,
    }
    missing = submission_of(agent, "web", 2)
    assert (missing.status_code, missing.text) == (404, "job source not found")
    client.job.deregister_job("web", purge=True)
    assert submission_of(agent, "web", 0).status_code == 404


def test_submission_version_must_be_a_number(agent: Agent) -> None:
    """command/agent jobSubmissionCRUD: ``version`` is parsed as a uint64."""
    for version in ("", "-1", "one", str(2**64)):
        answer = submission_of(agent, "web", version)
        assert (answer.status_code, answer.text) == (
            400,
            "Unable to parse job submission version parameter",
        )


def test_oversized_submission_is_dropped_with_a_warning(agent: Agent, client: nomad.Nomad) -> None:
    """Follows job_endpoint_hooks_test.go (submissionController) and e2e jobsubapi_test.go: a
    source over job_max_source_size (1M) is discarded; the job is still registered."""
    source = "#" * 2_000_000
    response = client.jobs.register_job(
        {"Job": sleeper(), "Submission": {"Source": source, "Format": "hcl2"}}
    )
    assert (
        "job source size of 2.0 MB exceeds maximum of 1.0 MB and will be discarded"
        in response["Warnings"]
    )
    assert response["Warnings"].startswith("1 warning(s):\n\n* ")
    assert client.job.get_job("web")["Version"] == 0
    assert submission_of(agent, "web", 0).status_code == 404


def test_submission_in_a_namespace(agent: Agent, client: nomad.Nomad) -> None:
    """The submission is read in the job's namespace (JobSubmissionRequest's namespace)."""
    client.namespace.create_namespace({"Name": "team-a"})
    client.jobs.register_job(
        {
            "Job": sleeper() | {"Namespace": "team-a"},
            "Submission": {"Source": "{}", "Format": "json"},
        }
    )
    assert submission_of(agent, "web", 0).status_code == 404
    found = submission_of(agent, "web", 0, namespace="team-a").json()
    assert (found["Namespace"], found["Format"], found["VariableFlags"]) == ("team-a", "json", None)
