"""Jobspecs: HCL2 → the Job JSON of Nomad's HTTP API, its defaults, and its validation.

Mirrors Nomad 1.9: ``jobspec2`` (parsing, as ``POST /v1/jobs/parse`` does), ``api.Job.Canonicalize``
plus the server's register-time defaults, and ``structs.Job.Validate`` with its error texts.
"""

from __future__ import annotations

import copy
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import hcl2

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

TASK_NETWORK_WARNING = (
    "task network resources have been deprecated as of Nomad 0.12.0. "
    "Please configure networking via group network block."
)

_HCL_OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True,
    explicit_blocks=False,
    with_comments=False,
    preserve_scientific_notation=False,
)
# The same with quotes kept: the only way to tell `driver = raw_exec` from `driver = "raw_exec"`.
_QUOTED_OPTIONS = hcl2.SerializationOptions(
    explicit_blocks=False, with_comments=False, preserve_scientific_notation=False
)


class JobspecError(ValueError):
    """A jobspec or job Nomad refuses; the message is the plain-text body the HTTP API sends."""


# ---------------------------------------------------------------------------------------------
# Durations and Go's text forms of values


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_DURATION_PART = re.compile(r"(\d*\.?\d*)([^\d.]*)")


def duration_ns(value: str | int | float | None) -> int | None:
    """Nanoseconds of a Go duration ("10s", "1m30s", "500ms"); numbers are nanoseconds already."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise JobspecError(f"time: invalid duration {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise JobspecError(f"time: invalid duration {value!r}")
        return int(value)
    return _parse_go_duration(value)


def _parse_go_duration(text: str) -> int:
    """time.ParseDuration: a signed sequence of decimal numbers, each with a unit."""
    invalid = JobspecError(f'time: invalid duration "{text}"')
    sign, rest = (-1, text[1:]) if text[:1] == "-" else (1, text.removeprefix("+"))
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total, pos = Fraction(0), 0
    while pos < len(rest):
        match = _DURATION_PART.match(rest, pos)
        number, unit = match[1], match[2]
        if number in ("", "."):
            raise invalid
        if not unit:
            raise JobspecError(f'time: missing unit in duration "{text}"')
        if unit not in _DURATION_UNITS:
            raise JobspecError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += Fraction(number) * _DURATION_UNITS[unit]
        pos = match.end()
    return sign * int(total)


def _go_duration(ns: int) -> str:
    """time.Duration.String(): "0s", "500ms", "1m30s", "1h0m0s"."""
    if ns == 0:
        return "0s"
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    if ns < SECOND:
        unit, size = next((u, s) for u, s in (("ms", 10**6), ("µs", 10**3), ("ns", 1)) if ns >= s)
        return f"{sign}{_decimal(ns, size)}{unit}"
    hours, rest = divmod(ns, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    text = f"{_decimal(rest, SECOND)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _decimal(value: int, size: int) -> str:
    whole, fraction = divmod(value, size)
    digits = str(fraction).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def _go_text(value: Any) -> str:
    """A scalar as HCL converts it to a string: true, 3, 1.5."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError("string required")


def format_errors(errors: list[str]) -> str:
    """Nomad's multierror text: "1 error occurred:\\n\\t* ...\\n\\n"."""
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t".join(f"* {error}" for error in errors)
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"


# ---------------------------------------------------------------------------------------------
# Attribute value conversions (HCL → Go types). Each raises ValueError with cty's reason.


def _any(value: Any) -> Any:
    return value


def _string(value: Any) -> str:
    return _go_text(value)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a number is required")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise ValueError("a number is required")


def _number(value: Any) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                pass
    raise ValueError("a number is required")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("a bool is required")


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError("list of string required")
    return [_string(item) for item in value]


def _duration(value: Any) -> int:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return duration_ns(value)
    raise ValueError("a duration string is required")


# Go type and JSON types of each conversion, to check JSON jobs sent to PUT /v1/jobs.
_JSON_TYPES: dict[Callable[[Any], Any], tuple[str, tuple[type, ...]]] = {
    _string: ("string", (str,)),
    _int: ("int", (int,)),
    _number: ("float64", (int, float)),
    _bool: ("bool", (bool,)),
    _strings: ("[]string", (list,)),
    _duration: ("time.Duration", (int,)),
}


def _json_type(value: Any) -> str:
    kinds = ((bool, "bool"), (str, "string"), (int | float, "number"), (list, "array"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "object")


def _shape_error(value: Any, where: str, go_type: str) -> JobspecError:
    return JobspecError(
        f"json: cannot unmarshal {_json_type(value)} into Go struct field {where} of type {go_type}"
    )


# ---------------------------------------------------------------------------------------------
# The jobspec schema: for each block kind, HCL key → Go field of the api structs (api/*.go).


def _parse_error(where: str, message: str) -> JobspecError:
    return JobspecError(f"Failed to parse job: {where}: {message}")


def _is_block(value: Any) -> bool:
    """python-hcl2 gives blocks as a list of dicts, one per block."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


@dataclass(frozen=True)
class _Attr:
    """An argument `key = value`, converted to a Go type."""

    field: str
    convert: Callable[[Any], Any] = _any

    def decode(self, key: str, value: Any, where: str) -> Any:
        if _is_block(value) and self.convert is not _any:
            raise _parse_error(
                where,
                f'Unsupported block type; Blocks of type "{key}" are not expected here. '
                f'Did you mean to define argument "{key}"? '
                "If so, use the equals sign to assign it a value.",
            )
        try:
            return self.convert(value)
        except ValueError as err:
            raise _parse_error(
                where, f'Unsuitable value type; Unsuitable value for "{key}": {err}'
            ) from err

    def check(self, value: Any, where: str) -> None:
        go_type, kinds = _JSON_TYPES.get(self.convert, ("", ()))
        if not kinds:
            return
        if not isinstance(value, kinds) or isinstance(value, bool) != (bool in kinds):
            raise _shape_error(value, where, go_type)
        if self.convert is _strings and not all(isinstance(item, str) for item in value):
            raise _shape_error(value, where, go_type)


@dataclass(frozen=True)
class _Map:
    """A map written as a block `env { ... }` or an argument `env = { ... }`."""

    field: str
    convert: Callable[[Any], Any] = _string

    def decode(self, key: str, value: Any, where: str) -> dict:
        if _is_block(value):
            if len(value) > 1:
                raise _parse_error(where, _duplicate_block(key))
            value = value[0]
        if not isinstance(value, dict):
            raise _parse_error(where, f'Unsuitable value type; "{key}" must be a map')
        try:
            return {str(k): self.convert(v) for k, v in value.items()}
        except ValueError as err:
            raise _parse_error(
                f"{where} > {key}", f"Unsuitable value type; Unsuitable value: {err}"
            ) from err

    def check(self, value: Any, where: str) -> None:
        strings = self.convert is _string
        if not isinstance(value, dict):
            raise _shape_error(value, where, "map[string]string" if strings else "map")
        for item in value.values():
            if strings and not isinstance(item, str):
                raise _shape_error(item, where, "string")


@dataclass(frozen=True)
class _Raw:
    """A block this module does not model: accepted, its keys turned into Go-style names."""

    field: str
    many: bool = False

    def decode(self, key: str, value: Any, where: str) -> Any:
        if not _is_block(value):
            return value
        bodies = [{_go_name(k): v for k, v in body.items()} for body in value]
        if not self.many and len(bodies) > 1:
            raise _parse_error(where, _duplicate_block(key))
        return bodies if self.many else bodies[0]

    def check(self, value: Any, where: str) -> None:
        pass


@dataclass(frozen=True)
class _Block:
    """A nested block, decoded into the api struct `kind` (in _SCHEMAS): one, a list, or a map."""

    field: str
    kind: str
    many: bool = False
    label: str | None = None  # the Go field that receives the block's label
    keyed: bool = False  # a map label → block (group volumes)

    def decode(self, key: str, value: Any, where: str) -> Any:
        if not _is_block(value):
            raise _parse_error(
                where,
                f'Unsupported argument; An argument named "{key}" is not expected here. '
                f'Did you mean to define a block of type "{key}"?',
            )
        if not self.many and len(value) > 1:
            raise _parse_error(where, _duplicate_block(key))
        if self.label is None:
            blocks = [_decode(self.kind, body, f"{where} > {key}") for body in value]
            return blocks if self.many else blocks[0]
        blocks = []
        for entry in value:
            label, body = _labeled(entry, key, where)
            decoded = _decode(self.kind, body, f'{where} > {key} "{label}"')
            blocks.append({self.label: label, **decoded})
        return {b[self.label]: b for b in blocks} if self.keyed else blocks

    def check(self, value: Any, where: str) -> None:
        go_type = f"*api.{self.kind}"
        if self.keyed and not isinstance(value, dict):
            raise _shape_error(value, where, f"map[string]{go_type}")
        if self.many and not self.keyed and not isinstance(value, list):
            raise _shape_error(value, where, f"[]{go_type}")
        entries = list(value.values()) if self.keyed else value if self.many else [value]
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise _shape_error(entry, where, go_type)
            if self.label and not isinstance(entry.get(self.label, ""), str | None):
                raise _shape_error(entry[self.label], f"{where}.{self.label}", "string")
            _check_shape(self.kind, entry, f"{where}[{index}]" if self.many else where)


_Spec = _Attr | _Map | _Raw | _Block

_STR, _INT, _BOOL, _DUR, _STRS = _string, _int, _bool, _duration, _strings


def _attrs(**fields: tuple[str, Callable[[Any], Any]]) -> dict[str, _Attr]:
    return {key: _Attr(field, convert) for key, (field, convert) in fields.items()}


# The operator shortcuts (`version = ">= 1.2"`) keep their HCL names until _finish_constraint.
_CONSTRAINT = _attrs(
    attribute=("LTarget", _STR),
    value=("RTarget", _STR),
    operator=("Operand", _STR),
    version=("version", _STR),
    semver=("semver", _STR),
    regexp=("regexp", _STR),
    set_contains=("set_contains", _STR),
    set_contains_all=("set_contains_all", _STR),
    set_contains_any=("set_contains_any", _STR),
)

# api struct name → {HCL key → how to decode it into the struct's Go field}
_SCHEMAS: dict[str, dict[str, _Spec]] = {
    "Job": {
        **_attrs(
            region=("Region", _STR),
            namespace=("Namespace", _STR),
            id=("ID", _STR),
            name=("Name", _STR),
            type=("Type", _STR),
            priority=("Priority", _INT),
            all_at_once=("AllAtOnce", _BOOL),
            datacenters=("Datacenters", _STRS),
            node_pool=("NodePool", _STR),
            consul_token=("ConsulToken", _STR),
            vault_token=("VaultToken", _STR),
        ),
        "constraint": _Block("Constraints", "Constraint", many=True),
        "affinity": _Block("Affinities", "Affinity", many=True),
        "spread": _Block("Spreads", "Spread", many=True),
        "group": _Block("TaskGroups", "TaskGroup", many=True, label="Name"),
        "task": _Block("Tasks", "Task", many=True, label="Name"),  # a group of its own
        "update": _Block("Update", "UpdateStrategy"),
        "periodic": _Block("Periodic", "PeriodicConfig"),
        "parameterized": _Block("ParameterizedJob", "ParameterizedJobConfig"),
        "reschedule": _Block("Reschedule", "ReschedulePolicy"),
        "migrate": _Block("Migrate", "MigrateStrategy"),
        "vault": _Block("Vault", "Vault"),  # handed down to the tasks
        "meta": _Map("Meta"),
        "multiregion": _Raw("Multiregion"),
        "ui": _Raw("UI"),
    },
    "TaskGroup": {
        **_attrs(
            count=("Count", _INT),
            shutdown_delay=("ShutdownDelay", _DUR),
            stop_after_client_disconnect=("StopAfterClientDisconnect", _DUR),
            max_client_disconnect=("MaxClientDisconnect", _DUR),
            prevent_reschedule_on_lost=("PreventRescheduleOnLost", _BOOL),
        ),
        "constraint": _Block("Constraints", "Constraint", many=True),
        "affinity": _Block("Affinities", "Affinity", many=True),
        "spread": _Block("Spreads", "Spread", many=True),
        "task": _Block("Tasks", "Task", many=True, label="Name"),
        "volume": _Block("Volumes", "VolumeRequest", many=True, label="Name", keyed=True),
        "restart": _Block("RestartPolicy", "RestartPolicy"),
        "disconnect": _Block("Disconnect", "DisconnectStrategy"),
        "reschedule": _Block("ReschedulePolicy", "ReschedulePolicy"),
        "ephemeral_disk": _Block("EphemeralDisk", "EphemeralDisk"),
        "update": _Block("Update", "UpdateStrategy"),
        "migrate": _Block("Migrate", "MigrateStrategy"),
        "network": _Block("Networks", "NetworkResource", many=True),
        "service": _Block("Services", "Service", many=True),
        "scaling": _Block("Scaling", "ScalingPolicy"),
        "consul": _Block("Consul", "Consul"),
        "vault": _Block("Vault", "Vault"),  # handed down to the tasks
        "meta": _Map("Meta"),
    },
    "Task": {
        **_attrs(
            driver=("Driver", _STR),
            user=("User", _STR),
            kill_timeout=("KillTimeout", _DUR),
            leader=("Leader", _BOOL),
            shutdown_delay=("ShutdownDelay", _DUR),
            kill_signal=("KillSignal", _STR),
            kind=("Kind", _STR),
        ),
        "config": _Map("Config", _any),
        "env": _Map("Env"),
        "meta": _Map("Meta"),
        "constraint": _Block("Constraints", "Constraint", many=True),
        "affinity": _Block("Affinities", "Affinity", many=True),
        "lifecycle": _Block("Lifecycle", "TaskLifecycle"),
        "service": _Block("Services", "Service", many=True),
        "resources": _Block("Resources", "Resources"),
        "restart": _Block("RestartPolicy", "RestartPolicy"),
        "logs": _Block("LogConfig", "LogConfig"),
        "artifact": _Block("Artifacts", "TaskArtifact", many=True),
        "vault": _Block("Vault", "Vault"),
        "consul": _Block("Consul", "Consul"),
        "template": _Block("Templates", "Template", many=True),
        "dispatch_payload": _Block("DispatchPayload", "DispatchPayloadConfig"),
        "volume_mount": _Block("VolumeMounts", "VolumeMount", many=True),
        "csi_plugin": _Raw("CSIPluginConfig"),
        "scaling": _Raw("ScalingPolicies", many=True),
        "identity": _Raw("Identities", many=True),
        "action": _Raw("Actions", many=True),
        "schedule": _Raw("Schedule"),
    },
    "UpdateStrategy": _attrs(
        stagger=("Stagger", _DUR),
        max_parallel=("MaxParallel", _INT),
        health_check=("HealthCheck", _STR),
        min_healthy_time=("MinHealthyTime", _DUR),
        healthy_deadline=("HealthyDeadline", _DUR),
        progress_deadline=("ProgressDeadline", _DUR),
        canary=("Canary", _INT),
        auto_revert=("AutoRevert", _BOOL),
        auto_promote=("AutoPromote", _BOOL),
    ),
    "MigrateStrategy": _attrs(
        max_parallel=("MaxParallel", _INT),
        health_check=("HealthCheck", _STR),
        min_healthy_time=("MinHealthyTime", _DUR),
        healthy_deadline=("HealthyDeadline", _DUR),
    ),
    "RestartPolicy": _attrs(
        interval=("Interval", _DUR),
        attempts=("Attempts", _INT),
        delay=("Delay", _DUR),
        mode=("Mode", _STR),
        render_templates=("RenderTemplates", _BOOL),
    ),
    "ReschedulePolicy": _attrs(
        attempts=("Attempts", _INT),
        interval=("Interval", _DUR),
        delay=("Delay", _DUR),
        delay_function=("DelayFunction", _STR),
        max_delay=("MaxDelay", _DUR),
        unlimited=("Unlimited", _BOOL),
    ),
    "DisconnectStrategy": _attrs(
        lost_after=("LostAfter", _DUR),
        stop_on_client_after=("StopOnClientAfter", _DUR),
        replace=("Replace", _BOOL),
        reconcile=("Reconcile", _STR),
    ),
    "EphemeralDisk": _attrs(
        sticky=("Sticky", _BOOL), migrate=("Migrate", _BOOL), size=("SizeMB", _INT)
    ),
    "LogConfig": _attrs(
        max_files=("MaxFiles", _INT),
        max_file_size=("MaxFileSizeMB", _INT),
        enabled=("Enabled", _BOOL),
        disabled=("Disabled", _BOOL),
    ),
    "Resources": {
        **_attrs(
            cpu=("CPU", _INT),
            cores=("Cores", _INT),
            memory=("MemoryMB", _INT),
            memory_max=("MemoryMaxMB", _INT),
            disk=("DiskMB", _INT),
            secrets=("SecretsMB", _INT),
            iops=("IOPS", _INT),
        ),
        "network": _Block("Networks", "NetworkResource", many=True),
        "device": _Block("Devices", "RequestedDevice", many=True, label="Name"),
        "numa": _Raw("NUMA"),
    },
    "RequestedDevice": {
        "count": _Attr("Count", _INT),
        "constraint": _Block("Constraints", "Constraint", many=True),
        "affinity": _Block("Affinities", "Affinity", many=True),
    },
    "NetworkResource": {
        **_attrs(
            mode=("Mode", _STR),
            device=("Device", _STR),
            cidr=("CIDR", _STR),
            ip=("IP", _STR),
            hostname=("Hostname", _STR),
            mbits=("MBits", _INT),
        ),
        "dns": _Block("DNS", "DNSConfig"),
        "reserved_ports": _Block("ReservedPorts", "Port", many=True, label="Label"),
        "port": _Block("DynamicPorts", "Port", many=True, label="Label"),
        "cni": _Block("CNI", "CNIConfig"),
    },
    "Port": _attrs(
        static=("Value", _INT),
        to=("To", _INT),
        host_network=("HostNetwork", _STR),
        ignore_collision=("IgnoreCollision", _BOOL),
    ),
    "DNSConfig": _attrs(
        servers=("Servers", _STRS), searches=("Searches", _STRS), options=("Options", _STRS)
    ),
    "CNIConfig": {"args": _Map("Args")},
    "Constraint": {
        **_CONSTRAINT,
        **_attrs(
            distinct_hosts=("distinct_hosts", _BOOL), distinct_property=("distinct_property", _STR)
        ),
        **_attrs(is_set=("is_set", _STR), is_not_set=("is_not_set", _STR)),  # accepted, unused
    },
    "Affinity": {**_CONSTRAINT, "weight": _Attr("Weight", _INT)},
    "Spread": {
        **_attrs(attribute=("Attribute", _STR), weight=("Weight", _INT)),
        "target": _Block("SpreadTarget", "SpreadTarget", many=True, label="Value"),
    },
    "SpreadTarget": _attrs(percent=("Percent", _INT)),
    "Service": {
        **_attrs(
            name=("Name", _STR),
            tags=("Tags", _STRS),
            canary_tags=("CanaryTags", _STRS),
            enable_tag_override=("EnableTagOverride", _BOOL),
            port=("PortLabel", _STR),
            address_mode=("AddressMode", _STR),
            address=("Address", _STR),
            task=("TaskName", _STR),
            on_update=("OnUpdate", _STR),
            provider=("Provider", _STR),
            cluster=("Cluster", _STR),
        ),
        "check": _Block("Checks", "ServiceCheck", many=True),
        "check_restart": _Block("CheckRestart", "CheckRestart"),
        "meta": _Map("Meta"),
        "canary_meta": _Map("CanaryMeta"),
        "tagged_addresses": _Map("TaggedAddresses"),
        "connect": _Raw("Connect"),
        "identity": _Raw("Identity"),
        "weights": _Raw("Weights"),
    },
    "ServiceCheck": {
        **_attrs(
            name=("Name", _STR),
            type=("Type", _STR),
            command=("Command", _STR),
            args=("Args", _STRS),
            path=("Path", _STR),
            protocol=("Protocol", _STR),
            port=("PortLabel", _STR),
            expose=("Expose", _BOOL),
            address_mode=("AddressMode", _STR),
            advertise=("Advertise", _STR),
            interval=("Interval", _DUR),
            timeout=("Timeout", _DUR),
            initial_status=("InitialStatus", _STR),
            notes=("Notes", _STR),
            tls_server_name=("TLSServerName", _STR),
            tls_skip_verify=("TLSSkipVerify", _BOOL),
            method=("Method", _STR),
            grpc_service=("GRPCService", _STR),
            grpc_use_tls=("GRPCUseTLS", _BOOL),
            task=("TaskName", _STR),
            success_before_passing=("SuccessBeforePassing", _INT),
            failures_before_critical=("FailuresBeforeCritical", _INT),
            failures_before_warning=("FailuresBeforeWarning", _INT),
            body=("Body", _STR),
            on_update=("OnUpdate", _STR),
        ),
        "header": _Map("Header", _strings),
        "check_restart": _Block("CheckRestart", "CheckRestart"),
    },
    "CheckRestart": _attrs(
        limit=("Limit", _INT), grace=("Grace", _DUR), ignore_warnings=("IgnoreWarnings", _BOOL)
    ),
    "Template": {
        **_attrs(
            source=("SourcePath", _STR),
            destination=("DestPath", _STR),
            data=("EmbeddedTmpl", _STR),
            change_mode=("ChangeMode", _STR),
            change_signal=("ChangeSignal", _STR),
            splay=("Splay", _DUR),
            perms=("Perms", _STR),
            uid=("Uid", _INT),
            gid=("Gid", _INT),
            left_delimiter=("LeftDelim", _STR),
            right_delimiter=("RightDelim", _STR),
            env=("Envvars", _BOOL),
            vault_grace=("VaultGrace", _DUR),
            error_on_missing_key=("ErrMissingKey", _BOOL),
        ),
        "change_script": _Block("ChangeScript", "ChangeScript"),
        "wait": _Block("Wait", "WaitConfig"),
    },
    "ChangeScript": _attrs(
        command=("Command", _STR),
        args=("Args", _STRS),
        timeout=("Timeout", _DUR),
        fail_on_error=("FailOnError", _BOOL),
    ),
    "WaitConfig": _attrs(min=("Min", _DUR), max=("Max", _DUR)),
    "TaskArtifact": {
        **_attrs(
            source=("GetterSource", _STR),
            mode=("GetterMode", _STR),
            insecure=("GetterInsecure", _BOOL),
            destination=("RelativeDest", _STR),
            chown=("Chown", _BOOL),
        ),
        "options": _Map("GetterOptions"),
        "headers": _Map("GetterHeaders"),
    },
    "Vault": _attrs(
        policies=("Policies", _STRS),
        role=("Role", _STR),
        namespace=("Namespace", _STR),
        cluster=("Cluster", _STR),
        env=("Env", _BOOL),
        disable_file=("DisableFile", _BOOL),
        change_mode=("ChangeMode", _STR),
        change_signal=("ChangeSignal", _STR),
        allow_token_expiration=("AllowTokenExpiration", _BOOL),
    ),
    "Consul": _attrs(
        namespace=("Namespace", _STR), cluster=("Cluster", _STR), partition=("Partition", _STR)
    ),
    "TaskLifecycle": _attrs(hook=("Hook", _STR), sidecar=("Sidecar", _BOOL)),
    "DispatchPayloadConfig": _attrs(file=("File", _STR)),
    "VolumeMount": _attrs(
        volume=("Volume", _STR),
        destination=("Destination", _STR),
        read_only=("ReadOnly", _BOOL),
        propagation_mode=("PropagationMode", _STR),
        selinux_label=("SELinuxLabel", _STR),
    ),
    "VolumeRequest": {
        **_attrs(
            type=("Type", _STR),
            source=("Source", _STR),
            read_only=("ReadOnly", _BOOL),
            access_mode=("AccessMode", _STR),
            attachment_mode=("AttachmentMode", _STR),
            per_alloc=("PerAlloc", _BOOL),
        ),
        "mount_options": _Raw("MountOptions"),
    },
    "ScalingPolicy": {
        **_attrs(
            min=("Min", _INT), max=("Max", _INT), enabled=("Enabled", _BOOL), type=("Type", _STR)
        ),
        "policy": _Map("Policy", _any),
    },
    "PeriodicConfig": _attrs(
        enabled=("Enabled", _BOOL),
        cron=("Spec", _STR),
        crons=("Specs", _STRS),
        prohibit_overlap=("ProhibitOverlap", _BOOL),
        time_zone=("TimeZone", _STR),
    ),
    "ParameterizedJobConfig": _attrs(
        payload=("Payload", _STR),
        meta_required=("MetaRequired", _STRS),
        meta_optional=("MetaOptional", _STRS),
    ),
}

_ACRONYMS = {
    "id",
    "ip",
    "url",
    "ttl",
    "tls",
    "grpc",
    "dns",
    "cni",
    "cidr",
    "csi",
    "ui",
    "http",
    "numa",
}


def _go_name(key: str) -> str:
    """A Go-style field name for a key this module does not model: read_only → ReadOnly."""
    return "".join(p.upper() if p in _ACRONYMS else p.capitalize() for p in str(key).split("_"))


def _duplicate_block(key: str) -> str:
    return f'Duplicate {key} block; Only one block of type "{key}" is allowed.'


def _labeled(entry: Any, key: str, where: str) -> tuple[str, dict]:
    """The (label, body) of a block such as `group "echo" {...}`, given as {label: body}."""
    if isinstance(entry, dict) and len(entry) == 1:
        ((label, body),) = entry.items()
        if isinstance(body, dict):
            return str(label), body
    raise _parse_error(
        where, f"Missing name for {key}; All {key} blocks must have 1 labels (name)."
    )


def _decode(kind: str, body: dict, where: str) -> dict:
    """One block's body → its api struct, keys checked against the schema as HCL2 does."""
    schema = _SCHEMAS[kind]
    decoded: dict[str, Any] = {}
    for key, value in body.items():
        spec = schema.get(key)
        if spec is None:
            if _is_block(value):
                message = f'Unsupported block type; Blocks of type "{key}" are not expected here.'
            else:
                message = f'Unsupported argument; An argument named "{key}" is not expected here.'
            raise _parse_error(where, message)
        if value is not None:  # `x = null` leaves x unset, as in HCL
            decoded[spec.field] = spec.decode(key, value, where)
    finish = _FINISHERS.get(kind)
    return finish(decoded) if finish else decoded


def _check_shape(kind: str, obj: dict, where: str) -> None:
    """Raise the error Go's JSON decoding gives when a JSON job has a field of the wrong type."""
    for spec in _SCHEMAS[kind].values():
        value = obj.get(spec.field)
        if value is not None:
            spec.check(value, f"{where}.{spec.field}")


# Normalisations jobspec2 applies after decoding a block (jobspec2/parse_job.go, hcl_conversions.go)


def _finish_constraint(constraint: dict, shortcuts: tuple[str, ...]) -> dict:
    """`version = ">= 1.2"` and friends set both the operator and the value."""
    result = {"LTarget": "", "RTarget": "", "Operand": "", **constraint}
    for operand in shortcuts:
        value = result.pop(operand, "")
        if value not in ("", None):
            result["Operand"], result["RTarget"] = operand, value
    if (hosts := result.pop("distinct_hosts", None)) is not None:
        result["Operand"], result["RTarget"] = "distinct_hosts", _go_text(hosts)
    if property_ := result.pop("distinct_property", ""):
        result["Operand"], result["LTarget"] = "distinct_property", property_
    for unused in ("set_contains_all", "set_contains_any", "is_set", "is_not_set"):
        result.pop(unused, None)
    result["Operand"] = result["Operand"] or "="
    return result


def _finish_network(network: dict) -> dict:
    """`port "x" { static = N }` is a reserved port; without `static` a dynamic one."""
    ports = network.get("DynamicPorts") or []
    reserved = (network.get("ReservedPorts") or []) + [p for p in ports if p["Value"] > 0]
    network["ReservedPorts"] = reserved or None
    network["DynamicPorts"] = [p for p in ports if p["Value"] <= 0] or None
    return network


def _finish_template(template: dict) -> dict:
    template.setdefault("ChangeMode", "restart")
    template.setdefault("Perms", "0644")
    template.setdefault("Splay", 5 * SECOND)
    template.setdefault("ErrMissingKey", False)
    if script := template.get("ChangeScript"):
        _fill(script, {"Args": [], "Timeout": 5 * SECOND, "FailOnError": False})
    return template


def _hand_down_vault(vault: dict | None, tasks: list[dict]) -> None:
    """A job's or group's `vault` block applies to each of its tasks that has none."""
    for task in tasks if vault is not None else []:
        task.setdefault("Vault", copy.deepcopy(vault))


def _finish_group(group: dict) -> dict:
    _hand_down_vault(group.pop("Vault", None), group.get("Tasks", []))
    return group


def _finish_job(job: dict) -> dict:
    """A job-level `task` becomes a group of its own; a job-level `vault` goes to every task."""
    lone = [{"Name": task["Name"], "Tasks": [task]} for task in job.pop("Tasks", [])]
    if lone:
        job["TaskGroups"] = lone + job.get("TaskGroups", [])
    tasks = [task for group in job.get("TaskGroups", []) for task in group.get("Tasks", [])]
    _hand_down_vault(job.pop("Vault", None), tasks)
    return job


_FINISHERS: dict[str, Callable[[dict], dict]] = {
    "Job": _finish_job,
    "TaskGroup": _finish_group,
    "Constraint": lambda c: _finish_constraint(c, ("version", "semver", "regexp", "set_contains")),
    "Affinity": lambda a: _finish_constraint(
        a, ("version", "semver", "regexp", "set_contains_any", "set_contains_all", "set_contains")
    ),
    "NetworkResource": _finish_network,
    "Port": lambda p: {"Value": 0, "To": 0, "HostNetwork": "", "IgnoreCollision": False, **p},
    "Template": _finish_template,
    "Vault": lambda v: {"Env": True, "DisableFile": False, "ChangeMode": "restart", **v},
    "PeriodicConfig": lambda p: {**p, "SpecType": "cron"} if p.get("Spec") or p.get("Specs") else p,
    "ScalingPolicy": lambda s: {**s, "Type": s.get("Type") or "horizontal"},
}


# ---------------------------------------------------------------------------------------------
# HCL2 variables and interpolation


_UNSET = object()
_VARIABLE_KEYS = {"type", "default", "description", "validation"}
_TEMPLATE = re.compile(r"\$\$\{|%%\{|\$\{\s*var\.([A-Za-z_][\w-]*)\s*\}")
_EXPRESSION = re.compile(r"(?<!\$)\$\{([^}]*)\}")
_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][\w-]*)\n(?:(.*)\n)?[ \t]*\2", re.DOTALL)


def _load_hcl(text: str, options: hcl2.SerializationOptions = _HCL_OPTIONS, what: str = "") -> dict:
    try:
        return hcl2.loads(text, serialization_options=options)
    except Exception as err:  # python-hcl2 raises lark's errors, RuntimeError, ValueError
        raise JobspecError(f"Failed to parse job: {what}{_hcl_message(err)}") from err


def _is_bare_name(quoted: Any) -> bool:
    """In the quotes-kept tree, an unquoted name is the one string that starts with neither."""
    return isinstance(quoted, str) and not quoted.startswith(('"', "${"))


def _bare_names_as_references(node: Any, quoted: Any) -> Any:
    """`driver = raw_exec` names an undefined variable, which Nomad keeps as "${raw_exec}"."""
    if isinstance(node, dict):
        return {
            key: _bare_names_as_references(value, quoted_value)
            for (key, value), quoted_value in zip(node.items(), quoted.values(), strict=True)
        }
    if isinstance(node, list):
        return [_bare_names_as_references(v, q) for v, q in zip(node, quoted, strict=True)]
    return f"${{{node}}}" if _is_bare_name(quoted) else node


def _hcl_message(err: Exception) -> str:
    """python-hcl2's message: its first line, and what it expected when that list is short."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    expected = [line.removeprefix("* ") for line in lines if line.startswith("* ")]
    if "Expected one of:" in lines and 0 < len(expected) <= 6:
        return f"{lines[0]} Expected one of: {', '.join(expected)}."
    return lines[0]


def _declared_variables(tree: dict) -> dict[str, tuple[str | None, Any]]:
    """`variable "x" {...}` and `variables {...}` blocks → name → (type, default or _UNSET)."""
    declared: dict[str, tuple[str | None, Any]] = {}

    def declare(name: str, type_: str | None, default: Any) -> None:
        if name in declared:
            raise JobspecError(
                "Failed to parse job: Duplicate variable; "
                f"Duplicate {name} variable definition found."
            )
        declared[name] = (type_, default)

    for entry in _blocks(tree, "variable"):
        name, body = _labeled(entry, "variable", "variable")
        for key in body:
            if key not in _VARIABLE_KEYS:
                raise _parse_error(
                    f'variable "{name}"',
                    f'Unsupported argument; An argument named "{key}" is not expected here.',
                )
        default = body.get("default")
        declare(name, body.get("type"), _UNSET if default is None else _unheredoc_all(default))
    for entry in _blocks(tree, "variables"):
        for name, default in entry.items():
            declare(name, None, _unheredoc_all(default))
    return declared


def _blocks(tree: dict, key: str) -> list:
    value = tree.get(key)
    if value is None:
        return []
    if not _is_block(value):
        raise _parse_error(
            "input.hcl", f'Unsupported argument; An argument named "{key}" is not expected here.'
        )
    return value


def _variable_values(tree: dict, given: str | dict[str, str] | None) -> dict[str, Any]:
    """Each declared variable's value: from `given`, else its default, typed as declared."""
    declared = _declared_variables(tree)
    if isinstance(given, str):
        assigned = _var_file_values(given, declared)
    else:
        assigned = _var_arg_values(given or {}, declared)
    values: dict[str, Any] = {}
    for name, (type_, default) in declared.items():
        if name in assigned:
            values[name] = assigned[name]
        elif default is _UNSET:
            raise JobspecError(
                f'Failed to parse job: Unset variable "{name}"; A used variable must be set or '
                "have a default value; see https://developer.hashicorp.com/nomad/docs/"
                "job-specification/hcl2/variables for details."
            )
        else:
            try:
                values[name] = _typed(default, type_)
            except ValueError as err:
                raise JobspecError(
                    f'Failed to parse job: variable "{name}": Invalid default value for variable; '
                    "This default value is not compatible with the variable's type constraint: "
                    f"{err}."
                ) from err
    return values


def _var_file_values(text: str, declared: dict) -> dict[str, Any]:
    """The parse request's `Variables`: HCL `name = value` lines, as in a -var-file."""
    if not text.strip():
        return {}
    attrs = _load_hcl(text, what="unable to parse var content: ")
    quoted = _load_hcl(text, _QUOTED_OPTIONS, what="unable to parse var content: ")
    values = {}
    for (name, value), quoted_value in zip(attrs.items(), quoted.values(), strict=True):
        if name not in declared:
            raise JobspecError(
                f'Failed to parse job: Undefined variable; A "{name}" variable was set but was not '
                f'found in known variables. To declare variable "{name}", place this block in your '
                "job files"
            )
        if _is_bare_name(quoted_value) or (isinstance(value, str) and _EXPRESSION.search(value)):
            raise JobspecError(
                f"Failed to parse job: {name}: Variables not allowed; "
                "Variables may not be used here."
            )
        try:
            values[name] = _typed(_unheredoc_all(value), declared[name][0])
        except ValueError as err:
            raise JobspecError(
                f"Failed to parse job: Invalid value for variable; The value for {name} is not "
                f"compatible with the variable's type constraint: {err}."
            ) from err
    return values


def _var_arg_values(given: dict[str, str], declared: dict) -> dict[str, Any]:
    """`-var name=value` pairs: text, parsed as HCL only for lists, maps and other non-scalars."""
    values = {}
    for name, text in given.items():
        if name not in declared:
            raise JobspecError(
                f'Failed to parse job: Undefined -var variable; A "{name}" variable was passed '
                "in the command line but was not found in known variables. "
                f'To declare variable "{name}", place this block in your job file'
            )
        type_ = declared[name][0]
        value = text
        if isinstance(text, str) and type_ not in (None, "string", "number", "bool", "any"):
            value = _var_file_values(f"{name} = {text}", declared)[name]
        try:
            values[name] = _typed(value, type_)
        except ValueError as err:
            raise JobspecError(
                f"Failed to parse job: Invalid argument value for -var variable; The received arg "
                f"value for {name} is not compatible with the variable's type constraint: {err}."
            ) from err
    return values


def _typed(value: Any, type_: str | None) -> Any:
    """A variable's value in its declared type, as cty converts it; ValueError if it cannot be."""
    spec = (type_ or "any").removeprefix("${").removesuffix("}").replace(" ", "")
    scalar = {"string": _string, "number": _number, "bool": _bool}
    if spec in scalar:
        return scalar[spec](value)
    collection = re.fullmatch(r"(list|set|map)\((.+)\)", spec)
    if collection is None:
        return value
    outer, inner = collection.groups()
    if outer == "map":
        if not isinstance(value, dict):
            raise ValueError(f"map of {inner} required")
        return {k: _typed(v, inner) for k, v in value.items()}
    if not isinstance(value, list):
        raise ValueError(f"{outer} of {inner} required")
    return [_typed(v, inner) for v in value]


def _unheredoc(text: str) -> str:
    """A heredoc as python-hcl2 keeps it (<<EOF ... EOF) → its text, with the final newline."""
    match = _HEREDOC.fullmatch(text)
    if match is None:
        return text
    flush, body = match[1], match[3]
    if body is None:
        return ""
    return (textwrap.dedent(body) if flush else body) + "\n"


def _unheredoc_all(node: Any) -> Any:
    return _map_strings(node, _unheredoc)


def _map_strings(node: Any, change: Callable[[str], Any]) -> Any:
    if isinstance(node, dict):
        return {key: _map_strings(value, change) for key, value in node.items()}
    if isinstance(node, list):
        return [_map_strings(value, change) for value in node]
    return change(node) if isinstance(node, str) else node


def _interpolate(text: str, values: dict[str, Any]) -> Any:
    """Resolve `${var.x}`; keep runtime references (`${NOMAD_PORT_http}`, `${attr.x}`) literal.

    A string that is exactly one reference takes the variable's typed value (count = var.count).
    """
    text = _unheredoc(text)
    for expression in _EXPRESSION.findall(text):
        if re.search(r"\b(var|local)\.", expression) and not re.fullmatch(
            r"\s*var\.[A-Za-z_][\w-]*\s*", expression
        ):
            raise JobspecError(
                f'Failed to parse job: Unsupported expression "${{{expression}}}": the practice '
                "agent resolves plain var.NAME references only (no locals, functions or operators)"
            )

    def value_of(name: str) -> Any:
        if name not in values:
            raise JobspecError(
                f"Failed to parse job: Unsupported attribute; This object does not have an "
                f'attribute named "{name}".'
            )
        return values[name]

    whole = _TEMPLATE.fullmatch(text)
    if whole and whole[1]:
        return copy.deepcopy(value_of(whole[1]))

    def substitute(match: re.Match) -> str:
        if match[1] is None:  # the escapes $${ and %%{
            return match[0][1:]
        value = value_of(match[1])
        try:
            return _go_text(value)
        except ValueError as err:
            raise JobspecError(
                "Failed to parse job: Invalid template interpolation value; Cannot include the "
                f"given value in a string template: string required (var.{match[1]})."
            ) from err

    return _TEMPLATE.sub(substitute, text)


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_with_warnings(
    hcl: str, variables: str | dict[str, str] | None = None, canonicalize: bool = False
) -> tuple[dict, list[str]]:
    """Parse an HCL2 jobspec into the API's Job JSON, with warnings for deprecated settings."""
    if not hcl or not hcl.strip():
        raise JobspecError("Job spec is empty")
    tree = _load_hcl(hcl)
    for key in tree:
        if key not in ("job", "variable", "variables"):
            message = (
                "locals are not supported by the practice agent; use variables"
                if key == "locals"
                else f'Unsupported block type; Blocks of type "{key}" are not expected here.'
            )
            raise _parse_error("input.hcl", message)
    values = _variable_values(tree, variables)
    jobs = _blocks(tree, "job")
    if not jobs:
        raise JobspecError("Failed to parse job: Missing job block; A job block is required")
    if len(jobs) > 1:
        raise JobspecError(f"Failed to parse job: {_duplicate_block('job')}")
    job_id, body = _labeled(jobs[0], "job", "input.hcl")
    (quoted_body,) = _load_hcl(hcl, _QUOTED_OPTIONS)["job"][0].values()
    body = _bare_names_as_references(body, quoted_body)
    body = _map_strings(body, lambda text: _interpolate(text, values))
    decoded = _decode("Job", body, f'job "{job_id}"')
    job = {"ID": decoded.pop("ID", job_id), "Name": decoded.pop("Name", job_id), **decoded}
    if canonicalize:
        _canonicalize_job(job)
    return job, _warnings(job)


def parse(
    hcl: str, variables: str | dict[str, str] | None = None, canonicalize: bool = False
) -> dict:
    """Parse an HCL2 jobspec into the API's Job JSON (`POST /v1/jobs/parse`)."""
    return parse_with_warnings(hcl, variables, canonicalize)[0]


def _warnings(job: dict) -> list[str]:
    tasks = [t for g in job.get("TaskGroups") or [] for t in g.get("Tasks") or []]
    if any((t.get("Resources") or {}).get("Networks") for t in tasks):
        return [TASK_NETWORK_WARNING]
    return []


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


def _fill(obj: dict, defaults: dict) -> dict:
    """Set each default whose key is missing or null; keep what is there."""
    for key, value in defaults.items():
        if obj.get(key) is None:
            obj[key] = copy.deepcopy(value)
    return obj


def _merged(base: dict | None, override: dict | None) -> dict:
    """Copy of `base` with the non-null fields of `override` on top (the api Merge methods)."""
    return {**(base or {}), **{k: v for k, v in (override or {}).items() if v is not None}}


def canonicalize(job: dict) -> dict:
    """Fill Nomad's defaults into a job (from HCL or JSON) in place, and return it; idempotent."""
    return _canonicalize_job(job)


def _canonicalize_job(job: dict) -> dict:
    if not isinstance(job, dict):
        raise JobspecError("Job must be specified")
    _check_shape("Job", job, "Job")
    job["ID"] = job.get("ID") or ""
    if job.get("Name") is None:
        job["Name"] = job["ID"]
    for key in _JOB_EMPTY_IS_DEFAULT:
        if job.get(key) in ("", 0, []):
            job[key] = None
    _fill(job, _JOB_DEFAULTS)
    if job.get("Update") is not None:
        _fill(job["Update"], _UPDATE_DEFAULTS)
    else:
        job["Update"] = dict(_UPDATE_DEFAULTS) if job["Type"] == "service" else None
    job["TaskGroups"] = job.get("TaskGroups") or []
    for group in job["TaskGroups"]:
        _canonicalize_group(group, job)
    for block in (job.get("Spreads") or []) + (job.get("Affinities") or []):
        _fill(block, {"Weight": 50})
    return job


def _canonicalize_group(group: dict, job: dict) -> None:
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
        _canonicalize_task(task, group, job)
    for block in (group.get("Spreads") or []) + (group.get("Affinities") or []):
        _fill(block, {"Weight": 50})
    for network in group.get("Networks") or []:
        _canonicalize_network(network)
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


def _canonicalize_task(task: dict, group: dict, job: dict) -> None:
    resources = task["Resources"] = task.get("Resources") or {}
    if resources.get("Cores") is None:
        resources["Cores"] = 0
        _fill(resources, {"CPU": 100})
    _fill(resources, {"CPU": 0, "MemoryMB": 300, "MemoryMaxMB": 0})
    for network in resources.get("Networks") or []:
        _canonicalize_network(network)
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


def _canonicalize_network(network: dict) -> None:
    for port in (network.get("ReservedPorts") or []) + (network.get("DynamicPorts") or []):
        _fill(port, _PORT_DEFAULTS)
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
        restart = _merged(service.get("CheckRestart"), check.get("CheckRestart"))
        check["CheckRestart"] = _fill(restart, {"Grace": SECOND}) if restart else None
        for key in ("SuccessBeforePassing", "FailuresBeforeCritical", "FailuresBeforeWarning"):
            check[key] = max(check.get(key) or 0, 0)
        check["OnUpdate"] = check.get("OnUpdate") or service["OnUpdate"]


# ---------------------------------------------------------------------------------------------
# Validate: structs.Job.Validate and the register-time checks (nomad/job_endpoint_hooks.go)


_JOB_TYPES = ("service", "batch", "system", "sysbatch", "_core")
_HEALTH_CHECKS = ("checks", "task_states", "manual")
_DELAY_FUNCTIONS = ("constant", "exponential", "fibonacci")
_MAX_PORT = 65535


def validate(job: dict) -> list[str]:
    """Nomad's reasons to refuse a job on register, in its words; empty when the job is valid.

    The job is canonicalized first (on a copy), as Nomad does; a group's or task's problems are
    one entry, nested the way Nomad formats them.
    """
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
    if not job["Name"]:
        errors.append("Missing job name")
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
    if network_errors := _network_errors(group):
        errors.append(f"Task group network validation failed: {format_errors(network_errors)}")
    for task in group["Tasks"]:
        if task_errors := _task_errors(task, group, job):
            errors.append(
                f"Task {task.get('Name') or ''} validation failed: {format_errors(task_errors)}"
            )
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
        errors.append(f"Interval can not be less than 5s (got {_go_duration(interval)})")
    if attempts * delay > interval:
        errors.append(
            f"Nomad can't restart the TaskGroup {attempts} times in an interval of "
            f"{_go_duration(interval)} with a delay of {_go_duration(delay)}"
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
            f"Reschedule Policy with Attempts = {attempts}, Interval = {_go_duration(interval)}, "
            "and Unlimited = true is ambiguous"
        )
        errors.append("If Attempts >0, Unlimited cannot also be set to true")
    if delay < 5 * SECOND:
        errors.append(f"Delay cannot be less than 5s (got {_go_duration(delay)})")
    if policy["DelayFunction"] not in _DELAY_FUNCTIONS:
        choices = " ".join(f'"{f}"' for f in _DELAY_FUNCTIONS)
        errors.append(
            f'Invalid delay function "{policy["DelayFunction"]}", must be one of [{choices}]'
        )
    if policy["DelayFunction"] != "constant":
        if policy["MaxDelay"] < 5 * SECOND:
            errors.append(f"Max Delay cannot be less than 5s (got {_go_duration(delay)})")
        if policy["MaxDelay"] < delay:
            errors.append(
                f"Max Delay cannot be less than Delay {_go_duration(delay)} "
                f"(got {_go_duration(policy['MaxDelay'])})"
            )
    if not policy["Unlimited"] and interval < 15 * SECOND:
        errors.append(f"Interval cannot be less than 15s (got {_go_duration(interval)})")
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
            f"Minimum healthy time may not be less than zero: {_go_duration(min_healthy)}"
        )
    if healthy <= 0:
        errors.append(f"Healthy deadline must be greater than zero: {_go_duration(healthy)}")
    if progress < 0:
        errors.append(f"Progress deadline must be zero or greater: {_go_duration(progress)}")
    if min_healthy >= healthy:
        errors.append(
            "Minimum healthy time must be less than healthy deadline: "
            f"{_go_duration(min_healthy)} > {_go_duration(healthy)}"
        )
    if progress != 0 and healthy >= progress:
        errors.append(
            "Healthy deadline must be less than progress deadline: "
            f"{_go_duration(healthy)} > {_go_duration(progress)}"
        )
    if update["Stagger"] <= 0:
        errors.append(f"Stagger must be greater than zero: {_go_duration(update['Stagger'])}")
    return errors


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
    if not task.get("Driver"):
        errors.append("Missing task driver")
    kill_timeout, update = task["KillTimeout"], group.get("Update")
    if kill_timeout < 0:
        errors.append("KillTimeout must be a positive value")
    elif job["Type"] == "service" and update and 0 < update["ProgressDeadline"] < kill_timeout:
        errors.append(
            f"KillTimout ({_go_duration(kill_timeout)}) longer than the group's "
            f"ProgressDeadline ({_go_duration(update['ProgressDeadline'])})"
        )
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
