"""Nomad's defaults for a job: ``api.Job.Canonicalize`` plus what the server fills on register."""

from __future__ import annotations

import json

from nomadlab.contract import HOUR, MINUTE, SECOND
from nomadlab.practice import api
from nomadlab.practice.jobspec.common import JobspecError, _fill
from nomadlab.practice.jobspec.schema import _check_shape

# ---------------------------------------------------------------------------------------------
# Canonicalize: api/jobs.go, api/tasks.go, api/resources.go, api/services.go Canonicalize,
# plus what the server fills on register (node pool, datacenters, host networks).


_JOB_DEFAULTS = {
    "ParentID": "",
    "Namespace": "default",
    "Priority": 50,
    "Stop": False,
    "Region": "global",
    "NodePool": "default",
    "Type": "service",
    "AllAtOnce": False,
    "Datacenters": ["*"],
    "ConsulToken": "",
    "ConsulNamespace": "",
    "VaultToken": "",
    "VaultNamespace": "",
    "NomadTokenID": "",
    "Status": "",
    "StatusDescription": "",
    "Stable": False,
    "Version": 0,
    "CreateIndex": 0,
    "ModifyIndex": 0,
    "JobModifyIndex": 0,
}
# Empty values the server replaces too (regionForJob, jobCanonicalizer, structs Job.Canonicalize).
_JOB_EMPTY_IS_DEFAULT = ("Namespace", "Priority", "Region", "NodePool", "Datacenters")

_UPDATE_DEFAULTS = {
    "Stagger": 30 * SECOND,
    "MaxParallel": 1,
    "HealthCheck": "checks",
    "MinHealthyTime": 10 * SECOND,
    "HealthyDeadline": 5 * MINUTE,
    "ProgressDeadline": 10 * MINUTE,
    "AutoRevert": False,
    "Canary": 0,
    "AutoPromote": False,
}
_MIGRATE_DEFAULTS = {
    "MaxParallel": 1,
    "HealthCheck": "checks",
    "MinHealthyTime": 10 * SECOND,
    "HealthyDeadline": 5 * MINUTE,
}
_RESTART_DEFAULTS = {
    "service": {
        "Delay": 15 * SECOND,
        "Attempts": 2,
        "Interval": 30 * MINUTE,
        "Mode": "fail",
        "RenderTemplates": False,
    },
    "batch": {
        "Delay": 15 * SECOND,
        "Attempts": 3,
        "Interval": 24 * HOUR,
        "Mode": "fail",
        "RenderTemplates": False,
    },
}
_NO_RESCHEDULE = {
    "Attempts": 0,
    "Interval": 0,
    "Delay": 0,
    "DelayFunction": "",
    "MaxDelay": 0,
    "Unlimited": False,
}
_RESCHEDULE_DEFAULTS = {
    "service": {
        "Attempts": 0,
        "Interval": 0,
        "Delay": 30 * SECOND,
        "DelayFunction": "exponential",
        "MaxDelay": HOUR,
        "Unlimited": True,
    },
    "batch": {
        "Attempts": 1,
        "Interval": 24 * HOUR,
        "Delay": 5 * SECOND,
        "DelayFunction": "constant",
        "MaxDelay": 0,
        "Unlimited": False,
    },
}
_EPHEMERAL_DISK_DEFAULTS = {"Sticky": False, "Migrate": False, "SizeMB": 300}
_LOG_DEFAULTS = {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False}
_PORT_DEFAULTS = {"Value": 0, "To": 0, "IgnoreCollision": False}
_TEMPLATE_DEFAULTS = {
    "SourcePath": "",
    "DestPath": "",
    "EmbeddedTmpl": "",
    "ChangeMode": "restart",
    "Splay": 5 * SECOND,
    "Perms": "0644",
    "LeftDelim": "{{",
    "RightDelim": "}}",
    "Envvars": False,
    "ErrMissingKey": False,
    "VaultGrace": 0,
}
_VAULT_DEFAULTS = {
    "Env": True,
    "DisableFile": False,
    "Namespace": "",
    "ChangeMode": "restart",
    "ChangeSignal": "SIGHUP",
    "AllowTokenExpiration": False,
}


def _merged(base: dict | None, override: dict | None) -> dict:
    """Copy of `base` with the non-null fields of `override` on top (the api Merge methods)."""
    return {**(base or {}), **{k: v for k, v in (override or {}).items() if v is not None}}


def canonicalize(job: dict) -> dict:
    """Fill Nomad's defaults into a job (from HCL or JSON) in place, and return it; idempotent."""
    return _canonicalize_job(job)


def _canonicalize_job(job: dict, server: bool = True) -> dict:
    """``server``: add what the server fills on register (node pool, datacenters, host
    networks, memory_max) to what the api package's Canonicalize does (jobs/parse stops there)."""
    if not isinstance(job, dict):
        raise JobspecError("Job must be specified")
    _check_shape("Job", job, "Job")
    api.drop_nulls("Job", job)  # what jobs/parse sends back has every field, nil ones null
    job["ID"] = job.get("ID") or ""
    if job.get("Name") is None:
        job["Name"] = job["ID"]
    for key in _JOB_EMPTY_IS_DEFAULT:
        if job.get(key) in ("", 0, []):
            job[key] = None
    if server:
        _fill(job, _JOB_DEFAULTS)
    else:  # api Job.Canonicalize: an empty node pool, datacenters left as written
        _fill(
            job, {k: v for k, v in _JOB_DEFAULTS.items() if k != "Datacenters"} | {"NodePool": ""}
        )
    if job.get("Update") is not None:
        _fill(job["Update"], _UPDATE_DEFAULTS)
    else:
        job["Update"] = dict(_UPDATE_DEFAULTS) if job["Type"] == "service" else None
    if job.get("Periodic") is not None:  # api PeriodicConfig.Canonicalize
        _fill(job["Periodic"], {"Enabled": True, "SpecType": "cron", "ProhibitOverlap": False,
                                "TimeZone": "UTC"})  # fmt: skip
    if job.get("ParameterizedJob") is not None:  # structs ParameterizedJobConfig.Canonicalize
        _fill(job["ParameterizedJob"], {"Payload": "optional"})
    job["TaskGroups"] = job.get("TaskGroups") or []
    for group in job["TaskGroups"]:
        _canonicalize_group(group, job, server)
    for block in (job.get("Spreads") or []) + (job.get("Affinities") or []):
        _fill(block, {"Weight": 50})
    return job


def _canonicalize_group(group: dict, job: dict, server: bool) -> None:
    job_type = job["Type"]
    group["Name"] = group.get("Name") or ""
    scaling = group.get("Scaling")
    if group.get("Count") is None:
        group["Count"] = scaling["Min"] if scaling and scaling.get("Min") is not None else 1
    if scaling:
        _fill(scaling, {"Enabled": True, "Min": group["Count"], "Type": "horizontal"})
    group["EphemeralDisk"] = _fill(group.get("EphemeralDisk") or {}, _EPHEMERAL_DISK_DEFAULTS)
    group["Consul"] = _fill(
        group.get("Consul") or {},
        {"Namespace": job["ConsulNamespace"], "Cluster": "default", "Partition": ""},
    )
    _canonicalize_group_update(group, job)
    reschedule = _inherit(job, "Reschedule", group, "ReschedulePolicy", job_type != "system")
    if reschedule is not None:
        defaults = _RESCHEDULE_DEFAULTS.get(job_type, _NO_RESCHEDULE)
        group["ReschedulePolicy"] = _fill(reschedule, defaults)
    migrate = _inherit(job, "Migrate", group, "Migrate", job_type == "service")
    if migrate is not None:
        group["Migrate"] = _fill(migrate, _MIGRATE_DEFAULTS)
    restart_defaults = _RESTART_DEFAULTS[
        "service" if job_type in ("service", "system") else "batch"
    ]
    group["RestartPolicy"] = _merged(restart_defaults, group.get("RestartPolicy"))
    group["Tasks"] = group.get("Tasks") or []
    for task in group["Tasks"]:
        _canonicalize_task(task, group, job, server)
    for block in (group.get("Spreads") or []) + (group.get("Affinities") or []):
        _fill(block, {"Weight": 50})
    for network in group.get("Networks") or []:
        _canonicalize_network(network, server)
    for service in group.get("Services") or []:
        _canonicalize_service(service, f"{job['Name']}-{group['Name']}")
    _fill(group, {"PreventRescheduleOnLost": False})
    if group.get("Disconnect") is not None:
        _fill(group["Disconnect"], {"Replace": True, "Reconcile": "best_score"})


def _inherit(job: dict, job_key: str, group: dict, key: str, default: bool) -> dict | None:
    """The group's block over the job's (the group's fields win); {} if neither and `default`."""
    block = group.get(key)
    if job.get(job_key) is not None:
        block = _merged(job[job_key], block)
    return {} if block is None and default else block


def _canonicalize_group_update(group: dict, job: dict) -> None:
    """The group inherits the job's update block; its own fields win."""
    job_update, update = job.get("Update"), group.get("Update")
    if job_update is not None and update is not None:
        update = _merged(job_update, update)
    elif job_update is not None and any(job_update.values()):
        update = dict(job_update)
    group["Update"] = None if update is None else _fill(update, _UPDATE_DEFAULTS)


def _canonicalize_task(task: dict, group: dict, job: dict, server: bool) -> None:
    resources = task["Resources"] = task.get("Resources") or {}
    if resources.get("Cores") is None:
        resources["Cores"] = 0
        _fill(resources, {"CPU": 100})
    _fill(resources, {"CPU": 0, "MemoryMB": 300, **({"MemoryMaxMB": 0} if server else {})})
    for network in resources.get("Networks") or []:
        _canonicalize_network(network, server)
    _fill(task, {"KillTimeout": 5 * SECOND, "Leader": False})
    task["LogConfig"] = _fill(task.get("LogConfig") or {}, _LOG_DEFAULTS)
    for artifact in task.get("Artifacts") or []:
        _canonicalize_artifact(artifact)
    if task.get("Vault") is not None:
        _fill(task["Vault"], _VAULT_DEFAULTS)
        task["Vault"]["Cluster"] = task["Vault"].get("Cluster") or "default"
    if task.get("Consul") is not None:
        task["Consul"]["Cluster"] = task["Consul"].get("Cluster") or "default"
    for template in task.get("Templates") or []:
        _canonicalize_template(template)
    for service in task.get("Services") or []:
        _canonicalize_service(service, f"{job['Name']}-{group['Name']}-{task.get('Name') or ''}")
    for affinity in task.get("Affinities") or []:
        _fill(affinity, {"Weight": 50})
    for mount in task.get("VolumeMounts") or []:
        _fill(mount, {"PropagationMode": "private", "ReadOnly": False, "SELinuxLabel": ""})
    if not (task.get("Lifecycle") or {}).get("Hook"):
        task["Lifecycle"] = None
    task["RestartPolicy"] = _merged(group["RestartPolicy"], task.get("RestartPolicy"))


def _canonicalize_network(network: dict, server: bool) -> None:
    for port in (network.get("ReservedPorts") or []) + (network.get("DynamicPorts") or []):
        _fill(port, _PORT_DEFAULTS)
        if server:  # the api's NetworkResource.Canonicalize leaves it empty
            port["HostNetwork"] = port.get("HostNetwork") or "default"


def _canonicalize_artifact(artifact: dict) -> None:
    _fill(artifact, {"GetterMode": "any", "GetterInsecure": False, "GetterSource": ""})
    if artifact.get("RelativeDest") is None:
        if artifact["GetterMode"] == "file":
            name = artifact["GetterSource"].rstrip("/").rsplit("/", 1)[-1]
            artifact["RelativeDest"] = f"local/{name}"
        else:
            artifact["RelativeDest"] = "local/"


def _canonicalize_template(template: dict) -> None:
    _fill(template, _TEMPLATE_DEFAULTS)
    signal = template.get("ChangeSignal")
    if signal is None:
        template["ChangeSignal"] = "SIGHUP" if template["ChangeMode"] == "signal" else ""
    else:
        template["ChangeSignal"] = signal.upper()
    if template.get("ChangeScript") is not None:
        _fill(
            template["ChangeScript"],
            {"Command": "", "Args": [], "Timeout": 5 * SECOND, "FailOnError": False},
        )


def _canonicalize_service(service: dict, default_name: str) -> None:
    for key, default in (
        ("Name", default_name),
        ("AddressMode", "auto"),
        ("OnUpdate", "require_healthy"),
        ("Provider", "consul"),
        ("Cluster", "default"),
    ):
        service[key] = service.get(key) or default
    for check in service.get("Checks") or []:
        check["Name"] = check.get("Name") or f"service: {json.dumps(service['Name'])} check"
        restart = _merged(service.get("CheckRestart"), check.get("CheckRestart"))
        check["CheckRestart"] = _fill(restart, {"Grace": SECOND}) if restart else None
        for key in ("SuccessBeforePassing", "FailuresBeforeCritical", "FailuresBeforeWarning"):
            check[key] = max(check.get(key) or 0, 0)
        check["OnUpdate"] = check.get("OnUpdate") or service["OnUpdate"]
