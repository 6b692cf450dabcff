"""Nomad's reasons to refuse a job on register: ``structs.Job.Validate`` with its error texts."""

from __future__ import annotations

import copy
import os
import urllib.parse

from nomadlab import contract
from nomadlab.contract import SECOND, format_duration
from nomadlab.practice.jobspec.canonicalize import _canonicalize_job
from nomadlab.practice.jobspec.common import format_errors

# ---------------------------------------------------------------------------------------------
# Validate: structs.Job.Validate and the register-time checks (nomad/job_endpoint_hooks.go)


_JOB_TYPES = ("service", "batch", "system", "sysbatch", "_core")
_HEALTH_CHECKS = ("checks", "task_states", "manual")
_DELAY_FUNCTIONS = ("constant", "exponential", "fibonacci")
_MAX_PORT = 65535
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE")
# Nomad's Job.Validate sets no length; the practice agent does, so that every job it accepts
# can still be named in a URL (read, stopped, purged) within the HTTP server's header limit.
MAX_ID_LENGTH = 1000


def validate(job: dict, canonical: bool = False) -> list[str]:
    """Nomad's reasons to refuse a job on register, in its words; empty when the job is valid.

    The job is canonicalized first (on a copy), as Nomad does, unless the caller has done so
    (``canonical``); a group's or task's problems are one entry, nested the way Nomad formats
    them.
    """
    if not canonical:
        job = _canonicalize_job(copy.deepcopy(job))
    errors = _job_errors(job)
    for group in job["TaskGroups"]:
        if group_errors := _group_errors(group, job):
            errors.append(
                f"Task group {group['Name']} validation failed: {format_errors(group_errors)}"
            )
    if job["Type"] == "_core":
        errors.append("job type cannot be core")
    if not 1 <= job["Priority"] <= 100:
        errors.append("job priority must be between [1, 100]")
    return errors


def _job_errors(job: dict) -> list[str]:
    errors = []
    if not job["ID"]:
        errors.append("Missing job ID")
    elif " " in job["ID"]:
        errors.append("Job ID contains a space")
    elif "\0" in job["ID"]:
        errors.append("Job ID contains a null character")
    elif len(job["ID"]) > MAX_ID_LENGTH:
        errors.append(f"Job ID is longer than {MAX_ID_LENGTH} characters")
    if not job["Name"]:
        errors.append("Missing job name")
    elif "\0" in job["Name"]:
        errors.append("Job Name contains a null character")
    elif len(job["Name"]) > MAX_ID_LENGTH:
        errors.append(f"Job Name is longer than {MAX_ID_LENGTH} characters")
    if not job["Type"]:
        errors.append("Missing job type")
    elif job["Type"] not in _JOB_TYPES:
        errors.append(f'Invalid job type: "{job["Type"]}"')
    if any(not dc for dc in job["Datacenters"]):
        errors.append("Job datacenter must be non-empty string")
    if not job["TaskGroups"]:
        errors.append("Missing job task groups")
    seen: dict[str, int] = {}
    for index, group in enumerate(job["TaskGroups"], start=1):
        name = group["Name"]
        if not name:
            errors.append(f"Job task group {index} missing name")
        elif name in seen:
            errors.append(f"Job task group {index} redefines '{name}' from group {seen[name]}")
        else:
            seen[name] = index
        if job["Type"] == "system" and group["Count"] > 1:
            errors.append(
                f"Job task group {name} has count {group['Count']}. "
                "Count cannot exceed 1 with system scheduler"
            )
    return errors + _periodic_errors(job) + _parameterized_errors(job)


def _periodic_errors(job: dict) -> list[str]:
    """structs.PeriodicConfig.Validate, and periodic only for batch jobs (Job.Validate)."""
    periodic = job.get("Periodic")
    if periodic is None or not periodic.get("Enabled"):
        return []
    errors = []
    if job["Type"] not in ("batch", "sysbatch"):
        errors.append('Periodic can only be used with "batch" scheduler')
    spec, specs = periodic.get("Spec") or "", periodic.get("Specs") or []
    if spec and specs:
        errors.append("Only cron or crons may be used")
    if not spec and not specs:
        errors.append("Must specify a spec")
    zone = periodic.get("TimeZone") or ""
    if zone and contract.zone(zone) is None:
        errors.append(f'Invalid time zone "{zone}": unknown time zone {zone}')
    if periodic.get("SpecType") != "cron":
        errors.append(f'Unknown periodic specification type "{periodic.get("SpecType")}"')
    else:
        for expression in [spec] if spec else specs:
            problem = contract.invalid_cron(expression)
            if problem:
                errors.append(f'Invalid cron spec "{expression}": {problem}')
    return errors


def _parameterized_errors(job: dict) -> list[str]:
    """structs.ParameterizedJobConfig.Validate."""
    config = job.get("ParameterizedJob")
    if config is None:
        return []
    errors = []
    if job["Type"] not in ("batch", "sysbatch"):
        errors.append('Parameterized job can only be used with "batch" scheduler')
    if config.get("Payload") not in ("optional", "required", "forbidden"):
        errors.append(f'Unknown payload requirement: "{config.get("Payload")}"')
    optional = set(config.get("MetaOptional") or [])
    for key in config.get("MetaRequired") or []:
        if key in optional:
            errors.append(f'Cannot have key "{key}" in both required and optional metadata')
    return errors


def _group_errors(group: dict, job: dict) -> list[str]:
    errors = []
    if not group["Name"]:
        errors.append("Missing task group name")
    if group["Count"] < 0:
        errors.append("Task group count can't be negative")
    if not group["Tasks"]:
        errors.append("Missing tasks for task group")
    errors += _restart_errors(group["RestartPolicy"])
    if job["Type"] == "system":
        if group.get("ReschedulePolicy") is not None:
            errors.append("System jobs should not have a reschedule policy")
    else:
        errors += _reschedule_errors(group["ReschedulePolicy"])
    if group["EphemeralDisk"]["SizeMB"] < 10:
        errors.append(f"minimum DiskMB value is 10; got {group['EphemeralDisk']['SizeMB']}")
    if group.get("Update") is not None:
        if job["Type"] not in ("service", "system"):
            errors.append(f'Job type "{job["Type"]}" does not allow update block')
        errors += _update_errors(group["Update"])
    if job["Type"] != "service" and group.get("Migrate") is not None:
        errors.append(f'Job type "{job["Type"]}" does not allow migrate block')
    errors += _task_name_errors(group["Tasks"])
    errors += _service_errors(group.get("Services"))
    if network_errors := _network_errors(group):
        errors.append(f"Task group network validation failed: {format_errors(network_errors)}")
    if scaling_errors := _scaling_errors(group):
        errors.append(
            f"Task group scaling policy validation failed: {format_errors(scaling_errors)}"
        )
    for task in group["Tasks"]:
        if task_errors := _task_errors(task, group, job):
            errors.append(
                f"Task {task.get('Name') or ''} validation failed: {format_errors(task_errors)}"
            )
    return errors


def _scaling_errors(group: dict) -> list[str]:
    """TaskGroup.validateScalingPolicy: the policy itself (ScalingPolicy.Validate), then the
    group's count within its bounds. A ``max`` left out is -1 (ApiScalingPolicyToStructs)."""
    policy = group.get("Scaling")
    if policy is None:
        return []
    errors = []
    minimum, maximum = policy.get("Min") or 0, policy.get("Max")
    maximum = -1 if maximum is None else maximum
    kind = policy.get("Type") or ""
    if not kind:
        errors.append("missing scaling policy type")
    elif kind != "horizontal":  # its Target is always whole: register sets it (Canonicalize)
        errors.append(f'scaling policy type "{kind}" is not valid')
    if maximum < 0:
        errors.append("maximum count must be specified and non-negative")
    elif maximum < minimum:
        errors.append("maximum count must not be less than minimum count")
    if minimum < 0:
        errors.append("minimum count must be specified and non-negative")
    errors = [f"Scaling policy invalid: {e}" for e in errors]
    prefix = "Scaling policy invalid: task group count must not be"
    if maximum < group["Count"]:
        errors.append(f"{prefix} greater than maximum count in scaling policy")
    if group["Count"] < minimum:
        errors.append(f"{prefix} less than minimum count in scaling policy")
    return errors


def _restart_errors(policy: dict) -> list[str]:
    errors = []
    mode, attempts = policy["Mode"], policy["Attempts"]
    interval, delay = policy["Interval"], policy["Delay"]
    if mode not in ("delay", "fail"):
        errors.append(f'Unsupported restart mode: "{mode}"')
    if attempts == 0 and mode != "fail":
        errors.append(f'Restart policy "{mode}" with {attempts} attempts is ambiguous')
    if interval < 5 * SECOND:
        errors.append(f"Interval can not be less than 5s (got {format_duration(interval)})")
    if attempts * delay > interval:
        errors.append(
            f"Nomad can't restart the TaskGroup {attempts} times in an interval of "
            f"{format_duration(interval)} with a delay of {format_duration(delay)}"
        )
    return errors


def _reschedule_errors(policy: dict) -> list[str]:
    """ReschedulePolicy.Validate, without its cross-check of attempts against the interval."""
    if not (policy["Attempts"] > 0 or policy["Unlimited"]):
        return []
    errors = []
    attempts, interval, delay = policy["Attempts"], policy["Interval"], policy["Delay"]
    if attempts > 0 and interval <= 0:
        errors.append("Interval must be a non zero value if Attempts > 0")
    if attempts > 0 and policy["Unlimited"]:
        errors.append(
            f"Reschedule Policy with Attempts = {attempts}, "
            f"Interval = {format_duration(interval)}, and Unlimited = true is ambiguous"
        )
        errors.append("If Attempts >0, Unlimited cannot also be set to true")
    if delay < 5 * SECOND:
        errors.append(f"Delay cannot be less than 5s (got {format_duration(delay)})")
    if policy["DelayFunction"] not in _DELAY_FUNCTIONS:
        choices = " ".join(f'"{f}"' for f in _DELAY_FUNCTIONS)
        errors.append(
            f'Invalid delay function "{policy["DelayFunction"]}", must be one of [{choices}]'
        )
    if policy["DelayFunction"] != "constant":
        if policy["MaxDelay"] < 5 * SECOND:
            errors.append(f"Max Delay cannot be less than 5s (got {format_duration(delay)})")
        if policy["MaxDelay"] < delay:
            errors.append(
                f"Max Delay cannot be less than Delay {format_duration(delay)} "
                f"(got {format_duration(policy['MaxDelay'])})"
            )
    if not policy["Unlimited"] and interval < 15 * SECOND:
        errors.append(f"Interval cannot be less than 15s (got {format_duration(interval)})")
    return errors


def _update_errors(update: dict) -> list[str]:
    errors = []
    min_healthy, healthy = update["MinHealthyTime"], update["HealthyDeadline"]
    progress = update["ProgressDeadline"]
    if update["HealthCheck"] not in _HEALTH_CHECKS:
        errors.append(f'Invalid health check given: "{update["HealthCheck"]}"')
    if update["MaxParallel"] < 0:
        errors.append(f"Max parallel can not be less than zero: {update['MaxParallel']} < 0")
    if update["Canary"] < 0:
        errors.append(f"Canary count can not be less than zero: {update['Canary']} < 0")
    if update["Canary"] == 0 and update["AutoPromote"]:
        errors.append("Auto Promote requires a Canary count greater than zero")
    if min_healthy < 0:
        errors.append(
            f"Minimum healthy time may not be less than zero: {format_duration(min_healthy)}"
        )
    if healthy <= 0:
        errors.append(f"Healthy deadline must be greater than zero: {format_duration(healthy)}")
    if progress < 0:
        errors.append(f"Progress deadline must be zero or greater: {format_duration(progress)}")
    if min_healthy >= healthy:
        errors.append(
            "Minimum healthy time must be less than healthy deadline: "
            f"{format_duration(min_healthy)} > {format_duration(healthy)}"
        )
    if progress != 0 and healthy >= progress:
        errors.append(
            "Healthy deadline must be less than progress deadline: "
            f"{format_duration(healthy)} > {format_duration(progress)}"
        )
    if update["Stagger"] <= 0:
        errors.append(f"Stagger must be greater than zero: {format_duration(update['Stagger'])}")
    return errors


def _service_errors(services: list[dict] | None) -> list[str]:
    """TaskGroup/Task validateServices: each failing service, wrapped as Nomad wraps it."""
    return [
        f"Service[{index}] {service.get('Name') or ''} validation failed: {format_errors(found)}"
        for index, service in enumerate(services or [])
        if (found := _service_validate(service))
    ]


def _service_validate(service: dict) -> list[str]:
    """Why a ``service`` block cannot be registered (Service.Validate for the nomad
    provider; Consul's own rules are Consul's)."""
    provider = service.get("Provider") or "consul"
    if provider not in ("consul", "nomad"):
        return [f'Service provider must be one of "consul" or "nomad", got "{provider}"']
    if provider != "nomad":
        return []
    errors = [e for e in map(_nomad_check_error, service.get("Checks") or []) if e]
    if service.get("Connect") is not None:
        errors.append("Service with provider nomad cannot include Connect blocks")
    return errors


def _nomad_check_error(check: dict) -> str:
    """Why a check cannot run under the nomad provider (ServiceCheck.validateNomad), or ""."""
    kind = (check.get("Type") or "").lower()
    if kind not in ("tcp", "http"):
        return f'invalid check type ("{kind}"), must be one of tcp, http'
    path = check.get("Path") or ""
    if kind == "http" and not path:
        return "http type must have http path"
    if kind == "http" and urllib.parse.urlsplit(path).scheme:
        return "http type must have relative http path"
    for field, word in (("Interval", "interval"), ("Timeout", "timeout")):
        value = check.get(field) or 0
        if not value:
            return f"missing required value {word}. {word.capitalize()} cannot be less than 1s"
        if value < SECOND:
            return (
                f"interval ({format_duration(value)}) cannot be lower than 1s"
                if field == "Interval"
                else f"timeout ({format_duration(value)}) is lower than required minimum timeout 1s"
            )
    mode = check.get("AddressMode") or ""
    if mode == "auto":
        return 'invalid address_mode "auto" - auto only valid for services'
    if mode not in ("", "host", "driver", "alloc"):
        return f'invalid address_mode "{mode}"'
    on_update = check.get("OnUpdate") or ""
    if on_update not in ("", "ignore", "require_healthy", "ignore_warnings"):
        return (
            'on_update must be "require_healthy", "ignore_warnings", or "ignore"; '
            f'got "{on_update}"'
        )
    restart = check.get("CheckRestart")
    if restart and on_update == "ignore":
        return 'on_update value "ignore" is not compatible with check_restart'
    if check.get("Expose"):
        return "expose may only be set for Consul service checks"
    if on_update == "ignore_warnings":
        return "on_update may only be set to ignore_warnings for Consul service checks"
    if restart and restart.get("IgnoreWarnings"):
        return "ignore_warnings on check_restart only supported for Consul service checks"
    if mode == "driver":
        return "address_mode = driver may only be set for Consul service checks"
    method = check.get("Method") or ""
    if kind == "http" and method and method.upper() not in HTTP_METHODS:
        return f'method type "{method}" not supported in Nomad http check'
    for field, word in (
        ("SuccessBeforePassing", "success_before_passing"),
        ("FailuresBeforeCritical", "failures_before_critical"),
        ("FailuresBeforeWarning", "failures_before_warning"),
        ("TLSServerName", "tls_server_name"),
        ("TLSSkipVerify", "tls_skip_verify"),
    ):
        if check.get(field):
            return f"{word} may only be set for Consul service checks"
    return ""


def _task_name_errors(tasks: list[dict]) -> list[str]:
    errors = []
    seen: dict[str, int] = {}
    for index, task in enumerate(tasks, start=1):
        name = task.get("Name") or ""
        if not name:
            errors.append(f"Task {index} missing name")
        elif name in seen:
            errors.append(f"Task {index} redefines '{name}' from task {seen[name]}")
        else:
            seen[name] = index
    if sum(1 for task in tasks if task["Leader"]) > 1:
        errors.append("Only one task may be marked as leader")
    return errors


def _ports(network: dict) -> list[dict]:
    return (network.get("ReservedPorts") or []) + (network.get("DynamicPorts") or [])


def _network_errors(group: dict) -> list[str]:
    """TaskGroup.validateNetworks: port labels unique in the group, static ports unique per host
    network and below 65536, `to` in range."""
    errors: list[str] = []
    labels: set[str] = set()
    static: dict[tuple[str, int], str] = {}

    def check_static(port: dict, owner: str) -> None:
        key = (port.get("HostNetwork") or "default", port["Value"])
        if key in static:
            if not port["IgnoreCollision"]:
                errors.append(f"Static port {port['Value']} already reserved by {static[key]}")
        elif port["Value"] > _MAX_PORT:
            errors.append(
                f"Port {port.get('Label')} ({port['Value']}) cannot be greater than {_MAX_PORT}"
            )
        else:
            static[key] = owner

    for network in group.get("Networks") or []:
        for port in _ports(network):
            label = port.get("Label")
            if label in labels:
                errors.append(f"Port label {label} already in use by taskgroup network")
            labels.add(label)
            if port["Value"] != 0:
                check_static(port, f"taskgroup network:{label}")
            if port["To"] < -1:
                errors.append(f'Port "{label}" cannot be mapped to negative value {port["To"]}')
            elif port["To"] > _MAX_PORT:
                errors.append(
                    f'Port "{label}" cannot be mapped to a port ({port["To"]}) '
                    f"greater than {_MAX_PORT}"
                )
    for task in group["Tasks"]:
        for network in task["Resources"].get("Networks") or []:
            for port in _ports(network):
                if port.get("Label") in labels:
                    errors.append(
                        f"Port label {port.get('Label')} already in use by taskgroup network"
                    )
                if port["Value"] != 0:
                    check_static(port, f"{task.get('Name') or ''}:{port.get('Label')}")
    return errors


def _task_errors(task: dict, group: dict, job: dict) -> list[str]:
    errors = []
    name = task.get("Name") or ""
    if not name:
        errors.append("Missing task name")
    if "/" in name or "\\" in name:
        errors.append("Task name cannot include slashes")
    elif "\0" in name:
        errors.append("Task name cannot include null characters")
    elif name in (".", ".."):  # the task's directory would be the allocation's, or its parent
        errors.append(f'Task name cannot be "{name}"')
    elif len(os.fsencode(name)) > 255:
        errors.append("Task name is longer than 255 bytes (it names the task's directory)")
    if not task.get("Driver"):
        errors.append("Missing task driver")
    kill_timeout, update = task["KillTimeout"], group.get("Update")
    if kill_timeout < 0:
        errors.append("KillTimeout must be a positive value")
    elif job["Type"] == "service" and update and 0 < update["ProgressDeadline"] < kill_timeout:
        errors.append(
            f"KillTimout ({format_duration(kill_timeout)}) longer than the group's "
            f"ProgressDeadline ({format_duration(update['ProgressDeadline'])})"
        )
    errors += _service_errors(task.get("Services"))
    if resource_errors := _resource_errors(task["Resources"]):
        errors.append(format_errors(resource_errors))
    if log_errors := _log_errors(task["LogConfig"], group["EphemeralDisk"]):
        errors.append(format_errors(log_errors))
    return errors


def _resource_errors(resources: dict) -> list[str]:
    errors = []
    cpu, cores, memory = resources["CPU"], resources["Cores"], resources["MemoryMB"]
    memory_max = resources["MemoryMaxMB"]
    if cores > 0 and cpu > 0:
        errors.append("Task can only ask for 'cpu' or 'cores' resource, not both.")
    minimums = []
    if cpu < 1 and cores == 0:
        minimums.append(f"minimum CPU value is 1; got {cpu}")
    if memory < 10:
        minimums.append(f"minimum MemoryMB value is 10; got {memory}")
    if minimums:
        errors.append(format_errors(minimums))
    if (resources.get("DiskMB") or 0) > 0:
        errors.append(
            "Task can't ask for disk resources, they have to be specified at the task group level."
        )
    if memory_max not in (0, -1) and memory_max < memory:
        errors.append(
            f"MemoryMaxMB value ({memory_max}) should be larger than MemoryMB value ({memory})"
        )
    return errors


def _log_errors(logs: dict, disk: dict) -> list[str]:
    errors = []
    if logs["MaxFiles"] < 1:
        errors.append(f"minimum number of files is 1; got {logs['MaxFiles']}")
    if logs["MaxFileSizeMB"] < 1:
        errors.append(f"minimum file size is 1MB; got {logs['MaxFileSizeMB']}")
    usage = logs["MaxFiles"] * logs["MaxFileSizeMB"]
    if disk["SizeMB"] <= usage:
        errors.append(
            f"log storage ({usage} MB) must be less than requested disk capacity "
            f"({disk['SizeMB']} MB)"
        )
    return errors


# ---------------------------------------------------------------------------------------------
# Warnings: structs.Job.Warnings, returned by register beside a successful answer

TASK_NETWORK_WARNING = (
    "task network resources have been deprecated as of Nomad 0.12.0. "
    "Please configure networking via group network block."
)


def task_warnings(task: dict) -> list[str]:
    """structs.Task.Warnings: deprecated settings a task still uses."""
    resources = task.get("Resources") or {}
    found = []
    if resources.get("IOPS"):
        found.append(
            "IOPS has been deprecated as of Nomad 0.9.0. Please remove IOPS from resource stanza."
        )
    if resources.get("Networks"):
        found.append(TASK_NETWORK_WARNING)
    return found


def warnings(job: dict, extra: list[str] | None = None) -> str:
    """The register response's ``Warnings``: structs.Job.Warnings, then ``extra`` (the
    register's own), merged as Nomad's MergeMultierrorWarnings writes them
    ("1 warning(s):\n\n* ..."), or "" for none."""
    found = []
    for group in job.get("TaskGroups") or []:
        problems = []
        update, count = group.get("Update") or {}, group.get("Count") or 0
        if count > 1 and (update.get("MaxParallel") or 0) > count:
            problems.append(
                "Update max parallel count is greater than task group count "
                f"({update['MaxParallel']} > {count}). A destructive change would result in "
                "the simultaneous replacement of all allocations."
            )
        networks = group.get("Networks") or []
        if networks and (networks[0].get("MBits") or 0) > 0:
            problems.append(
                "mbits has been deprecated as of Nomad 0.12.0. "
                "Please remove mbits from the network block"
            )
        for task in group.get("Tasks") or []:
            problems += [f'Task "{task["Name"]}": {w}' for w in task_warnings(task)]
        if problems:
            found.append(f'Group "{group["Name"]}" has warnings: {format_errors(problems)}')
    found += extra or []
    if not found:
        return ""
    return f"{len(found)} warning(s):\n" + "".join(f"\n* {w}" for w in found)
