"""The api structs a jobspec decodes into: HCL attribute conversions, the block schema tables,
decoding a block and checking a JSON job's field types, and jobspec2's post-decode normalisations.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nomadlab.contract import SECOND
from nomadlab.practice.jobspec.common import JobspecError, _fill, duration_ns
from nomadlab.practice.jobspec.diagnostics import suggestion


def _go_text(value: Any) -> str:
    """A scalar as HCL converts it to a string: true, 3, 1.5."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError("string required")


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


def json_type(value: Any) -> str:
    kinds = ((bool, "bool"), (str, "string"), (int | float, "number"), (list, "array"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "object")


def _shape_error(value: Any, where: str, go_type: str) -> JobspecError:
    return JobspecError(
        f"json: cannot unmarshal {json_type(value)} into Go struct field {where} of type {go_type}"
    )


# ---------------------------------------------------------------------------------------------
# The jobspec schema: for each block kind, HCL key → Go field of the api structs (api/*.go).


def _parse_error(where: str, message: str, key: str = "", value: bool = False) -> JobspecError:
    """A decoding error inside the blocks ``where`` names; ``key`` (or its value, with
    ``value``) is what the parse endpoint then locates in the source, as HCL's ranges do."""
    error = JobspecError(f"Failed to parse job: {where}: {message}")
    error.where, error.key, error.value, error.message = where, key, value, message
    return error


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
                where, f"Unsuitable value type; Unsuitable value: {err}", key, value=True
            ) from err

    def check(self, value: Any, where: str) -> None:
        go_type, kinds = _JSON_TYPES.get(self.convert, ("", ()))
        if not kinds:
            return
        if not isinstance(value, kinds) or isinstance(value, bool) != (bool in kinds):
            raise _shape_error(value, where, go_type)
        if isinstance(value, int) and not -(2**63) <= value < 2**63:  # Go's ints are 64 bits
            raise JobspecError(
                f"json: cannot unmarshal number {value} into Go struct field {where} "
                f"of type {go_type}"
            )
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
            hint = suggestion(key, list(schema))
            if _is_block(value):
                message = (
                    f'Unsupported block type; Blocks of type "{key}" are not expected here.{hint}'
                )
            else:
                message = (
                    f'Unsupported argument; An argument named "{key}" is not expected here.{hint}'
                )
            raise _parse_error(where, message, key)
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
