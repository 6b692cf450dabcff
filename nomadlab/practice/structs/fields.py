"""Every field Nomad encodes for the wire types the practice agent serves, in Go order.

Nomad's structs carry no ``omitempty``, so a real response always has every key: a nil
pointer, map or slice is ``null``, a number ``0``, a string ``""``, a bool ``false``, and a
struct held by value is its own zero struct. :func:`complete` gives a stored object exactly
that key set, so learner code such as ``job["Meta"]`` behaves as it does against Nomad.

Each table names the Go file its list comes from (Nomad 1.9: ``nomad/structs/structs.go``
unless said otherwise). A field's entry is its zero value, or a reference to another table:
``Ptr`` (pointer to a struct), ``Slice``/``Map`` (of structs), ``Value`` (a struct by value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ptr:
    """``*T``: null when absent, completed as ``T`` when present."""

    name: str


@dataclass(frozen=True)
class Slice(Ptr):
    """``[]*T``: null when absent, each element completed as ``T``."""


@dataclass(frozen=True)
class Map(Ptr):
    """``map[string]*T``: null when absent, each value completed as ``T``."""


@dataclass(frozen=True)
class OmitEmpty(Ptr):
    """``*T`` tagged ``omitempty``: left out when nil, completed as ``T`` when present."""


@dataclass(frozen=True)
class Value(Ptr):
    """``T`` held by value: its zero struct when absent."""


def struct_fields(names: str, zero: Any = None, **typed: Any) -> dict[str, Any]:
    """A table from a space-separated list in Go order; ``typed`` gives non-null zeros and
    nested structs by field name."""
    table = {}
    for name in names.split():
        table[name] = typed.get(name, zero)
    unknown = set(typed) - set(table)
    if unknown:
        raise ValueError(f"typed fields not in the list: {sorted(unknown)}")
    return table


STRUCTS: dict[str, dict[str, Any]] = {
    # structs.go Job
    "Job": struct_fields(
        "Stop Region Namespace ID ParentID Name Type Priority AllAtOnce Datacenters NodePool "
        "Constraints Affinities Spreads TaskGroups Update Multiregion Periodic ParameterizedJob "
        "Dispatched DispatchIdempotencyToken Payload Meta ConsulToken ConsulNamespace VaultToken "
        "VaultNamespace NomadTokenID Status StatusDescription Stable Version SubmitTime "
        "CreateIndex ModifyIndex JobModifyIndex UI VersionTag",
        Stop=False,
        Region="",
        Namespace="",
        ID="",
        ParentID="",
        Name="",
        Type="",
        Priority=0,
        AllAtOnce=False,
        NodePool="",
        Constraints=Slice("Constraint"),
        Affinities=Slice("Affinity"),
        Spreads=Slice("Spread"),
        TaskGroups=Slice("TaskGroup"),
        Update=Value("UpdateStrategy"),
        Periodic=Ptr("PeriodicConfig"),
        ParameterizedJob=Ptr("ParameterizedJobConfig"),
        Dispatched=False,
        DispatchIdempotencyToken="",
        ConsulToken="",
        ConsulNamespace="",
        VaultToken="",
        VaultNamespace="",
        NomadTokenID="",
        Status="",
        StatusDescription="",
        Stable=False,
        Version=0,
        SubmitTime=0,
        CreateIndex=0,
        ModifyIndex=0,
        JobModifyIndex=0,
    ),
    # structs.go UpdateStrategy (a Job holds it by value, a TaskGroup by pointer)
    "UpdateStrategy": struct_fields(
        "Stagger MaxParallel HealthCheck MinHealthyTime HealthyDeadline ProgressDeadline "
        "AutoRevert AutoPromote Canary",
        0,
        HealthCheck="",
        AutoRevert=False,
        AutoPromote=False,
    ),
    "PeriodicConfig": struct_fields(
        "Enabled Spec Specs SpecType ProhibitOverlap TimeZone",
        Enabled=False,
        Spec="",
        SpecType="",
        ProhibitOverlap=False,
        TimeZone="",
    ),
    "ParameterizedJobConfig": struct_fields("Payload MetaRequired MetaOptional", Payload=""),
    "Constraint": struct_fields("LTarget RTarget Operand", ""),
    "Affinity": struct_fields("LTarget RTarget Operand Weight", "", Weight=0),
    "Spread": struct_fields(
        "Attribute Weight SpreadTarget", Attribute="", Weight=0, SpreadTarget=Slice("SpreadTarget")
    ),
    "SpreadTarget": struct_fields("Value Percent", Value="", Percent=0),
    # structs.go TaskGroup
    "TaskGroup": struct_fields(
        "Name Count Update Migrate Constraints Scaling RestartPolicy Disconnect Tasks "
        "EphemeralDisk Meta ReschedulePolicy Affinities Spreads Networks Consul Services Volumes "
        "ShutdownDelay StopAfterClientDisconnect MaxClientDisconnect PreventRescheduleOnLost",
        Name="",
        Count=0,
        Update=Ptr("UpdateStrategy"),
        Migrate=Ptr("MigrateStrategy"),
        Constraints=Slice("Constraint"),
        RestartPolicy=Ptr("RestartPolicy"),
        Tasks=Slice("Task"),
        EphemeralDisk=Ptr("EphemeralDisk"),
        ReschedulePolicy=Ptr("ReschedulePolicy"),
        Affinities=Slice("Affinity"),
        Spreads=Slice("Spread"),
        Networks=Slice("NetworkResource"),
        Services=Slice("Service"),
        PreventRescheduleOnLost=False,
    ),
    "MigrateStrategy": struct_fields(
        "MaxParallel HealthCheck MinHealthyTime HealthyDeadline", 0, HealthCheck=""
    ),
    "RestartPolicy": struct_fields(
        "Attempts Interval Delay Mode RenderTemplates", 0, Mode="", RenderTemplates=False
    ),
    "ReschedulePolicy": struct_fields(
        "Attempts Interval Delay DelayFunction MaxDelay Unlimited",
        0,
        DelayFunction="",
        Unlimited=False,
    ),
    "EphemeralDisk": struct_fields("Sticky SizeMB Migrate", False, SizeMB=0),
    # structs.go Task
    "Task": struct_fields(
        "Name Driver User Config Env Services Vault Consul Templates Constraints Affinities "
        "Resources RestartPolicy DispatchPayload Lifecycle Meta KillTimeout LogConfig Artifacts "
        "Leader ShutdownDelay VolumeMounts ScalingPolicies KillSignal Kind CSIPluginConfig "
        "Identity Identities Actions Schedule",
        Name="",
        Driver="",
        User="",
        Services=Slice("Service"),
        Templates=Slice("Template"),
        Constraints=Slice("Constraint"),
        Affinities=Slice("Affinity"),
        Resources=Ptr("Resources"),
        RestartPolicy=Ptr("RestartPolicy"),
        DispatchPayload=Ptr("DispatchPayloadConfig"),
        Lifecycle=Ptr("TaskLifecycleConfig"),
        KillTimeout=0,
        LogConfig=Ptr("LogConfig"),
        Leader=False,
        ShutdownDelay=0,
        KillSignal="",
        Kind="",
    ),
    "DispatchPayloadConfig": struct_fields("File", ""),
    "TaskLifecycleConfig": struct_fields("Hook Sidecar", "", Sidecar=False),
    "LogConfig": struct_fields("MaxFiles MaxFileSizeMB Disabled", 0, Disabled=False),
    "Template": struct_fields(
        "SourcePath DestPath EmbeddedTmpl ChangeMode ChangeSignal ChangeScript Splay Perms Uid "
        "Gid LeftDelim RightDelim Envvars VaultGrace Wait ErrMissingKey",
        "",
        ChangeScript=None,
        Splay=0,
        Uid=None,
        Gid=None,
        Envvars=False,
        VaultGrace=0,
        Wait=None,
        ErrMissingKey=False,
    ),
    # structs.go Resources, NetworkResource, Port
    "Resources": struct_fields(
        "CPU Cores MemoryMB MemoryMaxMB DiskMB IOPS Networks Devices NUMA SecretsMB",
        0,
        Networks=Slice("NetworkResource"),
        Devices=None,
        NUMA=None,
    ),
    "NetworkResource": struct_fields(
        "Mode Device CIDR IP Hostname MBits DNS ReservedPorts DynamicPorts",
        "",
        MBits=0,
        DNS=None,
        ReservedPorts=Slice("Port"),
        DynamicPorts=Slice("Port"),
    ),
    "Port": struct_fields(
        "Label Value To HostNetwork IgnoreCollision", "", Value=0, To=0, IgnoreCollision=False
    ),
    # structs.go Service, ServiceCheck (the fields a native service uses keep their zeros)
    "Service": struct_fields(
        "Name TaskName PortLabel AddressMode Address EnableTagOverride Tags CanaryTags Checks "
        "Connect Meta CanaryMeta TaggedAddresses Namespace OnUpdate Provider Cluster Identity",
        "",
        EnableTagOverride=False,
        Tags=None,
        CanaryTags=None,
        Checks=Slice("ServiceCheck"),
        Connect=None,
        Meta=None,
        CanaryMeta=None,
        TaggedAddresses=None,
        Identity=None,
    ),
    "ServiceCheck": struct_fields(
        "Name Type Command Args Path Protocol PortLabel Expose AddressMode Interval Timeout "
        "InitialStatus TLSServerName TLSSkipVerify Method Header CheckRestart GRPCService "
        "GRPCUseTLS TaskName SuccessBeforePassing FailuresBeforeCritical "
        "FailuresBeforeWarning Body OnUpdate",
        "",
        Args=None,
        Expose=False,
        Interval=0,
        Timeout=0,
        TLSSkipVerify=False,
        Header=None,
        CheckRestart=None,
        GRPCUseTLS=False,
        SuccessBeforePassing=0,
        FailuresBeforeCritical=0,
        FailuresBeforeWarning=0,
    ),
    # structs.go Allocation
    "Allocation": struct_fields(
        "ID Namespace EvalID Name NodeID NodeName JobID Job TaskGroup Resources SharedResources "
        "TaskResources AllocatedResources Metrics DesiredStatus DesiredDescription "
        "DesiredTransition ClientStatus ClientDescription TaskStates AllocStates "
        "PreviousAllocation NextAllocation DeploymentID DeploymentStatus RescheduleTracker "
        "NetworkStatus FollowupEvalID PreemptedAllocations PreemptedByAllocation SigningKeyID "
        "CreateIndex ModifyIndex AllocModifyIndex CreateTime ModifyTime",
        "",
        Job=Ptr("Job"),
        Resources=Ptr("Resources"),
        SharedResources=Ptr("Resources"),
        TaskResources=Map("Resources"),
        AllocatedResources=Ptr("AllocatedResources"),
        Metrics=Ptr("AllocMetric"),
        DesiredTransition=Value("DesiredTransition"),
        TaskStates=Map("TaskState"),
        AllocStates=None,
        DeploymentStatus=Ptr("AllocDeploymentStatus"),
        RescheduleTracker=None,
        NetworkStatus=None,
        PreemptedAllocations=None,
        CreateIndex=0,
        ModifyIndex=0,
        AllocModifyIndex=0,
        CreateTime=0,
        ModifyTime=0,
    ),
    # structs.go AllocListStub
    "AllocListStub": struct_fields(
        "ID EvalID Name Namespace NodeID NodeName JobID JobType JobVersion TaskGroup "
        "AllocatedResources DesiredStatus DesiredDescription ClientStatus ClientDescription "
        "DesiredTransition TaskStates DeploymentStatus FollowupEvalID NextAllocation "
        "RescheduleTracker PreemptedAllocations PreemptedByAllocation "
        "CreateIndex ModifyIndex CreateTime ModifyTime",
        "",
        JobVersion=0,
        AllocatedResources=Ptr("AllocatedResources"),
        DesiredTransition=Value("DesiredTransition"),
        TaskStates=Map("TaskState"),
        DeploymentStatus=Ptr("AllocDeploymentStatus"),
        RescheduleTracker=None,
        PreemptedAllocations=None,
        CreateIndex=0,
        ModifyIndex=0,
        CreateTime=0,
        ModifyTime=0,
    ),
    "DesiredTransition": struct_fields("Migrate Reschedule ForceReschedule NoShutdownDelay"),
    "AllocDeploymentStatus": struct_fields(
        "Healthy Timestamp Canary ModifyIndex", Timestamp=None, Canary=False, ModifyIndex=0
    ),
    # structs.go AllocatedResources and its parts
    "AllocatedResources": struct_fields(
        "Tasks TaskLifecycles Shared",
        Tasks=Map("AllocatedTaskResources"),
        Shared=Value("AllocatedSharedResources"),
    ),
    "AllocatedTaskResources": struct_fields(
        "Cpu Memory Networks Devices",
        Cpu=Value("AllocatedCpuResources"),
        Memory=Value("AllocatedMemoryResources"),
        Networks=Slice("NetworkResource"),
    ),
    "AllocatedCpuResources": struct_fields("CpuShares ReservedCores", CpuShares=0),
    "AllocatedMemoryResources": struct_fields("MemoryMB MemoryMaxMB", 0),
    "AllocatedSharedResources": struct_fields(
        "Networks DiskMB Ports",
        Networks=Slice("NetworkResource"),
        DiskMB=0,
        Ports=Slice("AllocatedPort"),
    ),
    "AllocatedPort": struct_fields("Label Value To HostIP", "", Value=0, To=0),
    # structs.go TaskState, TaskEvent
    "TaskState": struct_fields(
        "State Failed Restarts LastRestart StartedAt FinishedAt Events TaskHandle Paused",
        State="",
        Paused="",
        Failed=False,
        Restarts=0,
        Events=Slice("TaskEvent"),
    ),
    "TaskEvent": struct_fields(
        "Type Time Message DisplayMessage Details FailsTask RestartReason SetupError "
        "DriverError ExitCode Signal KillTimeout KillError KillReason StartDelay DownloadError "
        "ValidationError DiskLimit FailedSibling VaultError TaskSignalReason TaskSignal "
        "DriverMessage GenericSource",
        "",
        Time=0,
        Details=None,
        FailsTask=False,
        ExitCode=0,
        Signal=0,
        KillTimeout=0,
        StartDelay=0,
        DiskLimit=0,
    ),
    # structs.go AllocMetric
    "AllocMetric": struct_fields(
        "NodesEvaluated NodesFiltered NodesInPool NodesAvailable ClassFiltered "
        "ConstraintFiltered NodesExhausted ClassExhausted DimensionExhausted QuotaExhausted "
        "ResourcesExhausted Scores ScoreMetaData AllocationTime CoalescedFailures",
        NodesEvaluated=0,
        NodesFiltered=0,
        NodesInPool=0,
        NodesExhausted=0,
        AllocationTime=0,
        CoalescedFailures=0,
    ),
    # structs.go Evaluation
    "Evaluation": struct_fields(
        "ID Namespace Priority Type TriggeredBy JobID JobModifyIndex NodeID NodeModifyIndex "
        "DeploymentID Status StatusDescription Wait WaitUntil NextEval PreviousEval BlockedEval "
        "RelatedEvals FailedTGAllocs ClassEligibility QuotaLimitReached EscapedComputedClass "
        "AnnotatePlan QueuedAllocations LeaderACL SnapshotIndex CreateIndex ModifyIndex "
        "CreateTime ModifyTime",
        "",
        Priority=0,
        JobModifyIndex=0,
        NodeModifyIndex=0,
        Wait=0,
        WaitUntil=None,
        RelatedEvals=None,
        FailedTGAllocs=Map("AllocMetric"),
        ClassEligibility=None,
        EscapedComputedClass=False,
        AnnotatePlan=False,
        QueuedAllocations=None,
        SnapshotIndex=0,
        CreateIndex=0,
        ModifyIndex=0,
        CreateTime=0,
        ModifyTime=0,
    ),
    # structs.go Deployment, DeploymentState
    "Deployment": struct_fields(
        "ID Namespace JobID JobVersion JobModifyIndex JobSpecModifyIndex JobCreateIndex "
        "IsMultiregion TaskGroups Status StatusDescription EvalPriority CreateIndex ModifyIndex "
        "CreateTime ModifyTime",
        "",
        JobVersion=0,
        JobModifyIndex=0,
        JobSpecModifyIndex=0,
        JobCreateIndex=0,
        IsMultiregion=False,
        TaskGroups=Map("DeploymentState"),
        EvalPriority=0,
        CreateIndex=0,
        ModifyIndex=0,
        CreateTime=0,
        ModifyTime=0,
    ),
    "DeploymentState": struct_fields(
        "AutoRevert AutoPromote ProgressDeadline RequireProgressBy Promoted PlacedCanaries "
        "DesiredCanaries DesiredTotal PlacedAllocs HealthyAllocs UnhealthyAllocs",
        0,
        AutoRevert=False,
        AutoPromote=False,
        RequireProgressBy=None,
        Promoted=False,
        PlacedCanaries=None,
    ),
    # structs.go NodeResources, NodeReservedResources and the parts the practice node leaves out
    "NodeResources": struct_fields(
        "Cpu Processors Memory Disk Devices NodeNetworks Networks MinDynamicPort MaxDynamicPort",
        Processors=Value("NodeProcessorResources"),
        Disk=Value("NodeDiskResources"),
        MinDynamicPort=0,
        MaxDynamicPort=0,
    ),
    "NodeProcessorResources": struct_fields("Topology"),
    "NodeDiskResources": struct_fields("DiskMB", 0),
    "NodeReservedResources": struct_fields(
        "Cpu Memory Disk Networks",
        Cpu=Value("NodeReservedCpuResources"),
        Disk=Value("NodeReservedDiskResources"),
        Networks=Value("NodeReservedNetworkResources"),
    ),
    "NodeReservedCpuResources": struct_fields("CpuShares ReservedCpuCores", CpuShares=0),
    "NodeReservedDiskResources": struct_fields("DiskMB", 0),
    "NodeReservedNetworkResources": struct_fields("ReservedHostPorts", ""),
    # structs.go Node, NodeListStub
    "Node": struct_fields(
        "ID SecretID Datacenter Name CgroupParent HTTPAddr TLSEnabled Attributes NodeResources "
        "ReservedResources Resources Reserved Links Meta NodeClass NodePool ComputedClass "
        "DrainStrategy SchedulingEligibility Status StatusDescription StatusUpdatedAt Events "
        "Drivers CSIControllerPlugins CSINodePlugins HostVolumes HostNetworks LastDrain "
        "LastMissedHeartbeatIndex LastAllocUpdateIndex CreateIndex ModifyIndex",
        "",
        TLSEnabled=False,
        StatusUpdatedAt=0,
        LastMissedHeartbeatIndex=0,
        LastAllocUpdateIndex=0,
        Attributes=None,
        NodeResources=Ptr("NodeResources"),
        ReservedResources=Ptr("NodeReservedResources"),
        Resources=None,
        Reserved=None,
        Links=None,
        Meta=None,
        DrainStrategy=None,
        Events=None,
        Drivers=None,
        CSIControllerPlugins=None,
        CSINodePlugins=None,
        HostVolumes=None,
        HostNetworks=None,
        LastDrain=None,
        CreateIndex=0,
        ModifyIndex=0,
    ),
    "NodeListStub": struct_fields(
        "Address ID Attributes Datacenter Name NodePool NodeClass Version Drain "
        "SchedulingEligibility Status StatusDescription Drivers HostVolumes NodeResources "
        "ReservedResources LastDrain CreateIndex ModifyIndex",
        "",
        Attributes=None,
        Drain=False,
        Drivers=None,
        HostVolumes=None,
        NodeResources=None,
        ReservedResources=None,
        LastDrain=None,
        CreateIndex=0,
        ModifyIndex=0,
    ),
    # structs.go JobListStub (its Meta is omitempty: only ``?meta=true`` adds it)
    "JobListStub": struct_fields(
        "ID ParentID Name Namespace Datacenters NodePool Multiregion Type Priority Periodic "
        "ParameterizedJob Stop Status StatusDescription JobSummary CreateIndex ModifyIndex "
        "JobModifyIndex SubmitTime",
        "",
        Datacenters=None,
        Multiregion=None,
        Priority=0,
        Periodic=False,
        ParameterizedJob=False,
        Stop=False,
        JobSummary=None,
        CreateIndex=0,
        ModifyIndex=0,
        JobModifyIndex=0,
        SubmitTime=0,
    ),
    # structs.go JobVersionsResponse (QueryMeta's fields are embedded)
    "JobVersionsResponse": struct_fields(
        "Versions Diffs Index LastContact KnownLeader NextToken",
        Versions=Slice("Job"),
        Index=0,
        LastContact=0,
        KnownLeader=False,
        NextToken="",
    ),
    # client/structs/structs.go AllocResourceUsage and its parts
    "AllocResourceUsage": struct_fields(
        "ResourceUsage Tasks Timestamp",
        ResourceUsage=Ptr("ResourceUsage"),
        Tasks=Map("TaskResourceUsage"),
        Timestamp=0,
    ),
    "TaskResourceUsage": struct_fields(
        "ResourceUsage Timestamp Pids", ResourceUsage=Ptr("ResourceUsage"), Timestamp=0
    ),
    "ResourceUsage": struct_fields(
        "MemoryStats CpuStats DeviceStats",
        MemoryStats=Ptr("MemoryStats"),
        CpuStats=Ptr("CpuStats"),
    ),
    "MemoryStats": struct_fields(
        "RSS Cache Swap MappedFile Usage MaxUsage KernelUsage KernelMaxUsage Measured",
        0,
        Measured=None,
    ),
    "CpuStats": struct_fields(
        "SystemMode UserMode TotalTicks ThrottledPeriods ThrottledTime Percent Measured",
        0,
        Measured=None,
    ),
    # client/hoststats/host.go HostStats and its parts
    "HostStats": struct_fields(
        "Memory CPU DiskStats AllocDirStats DeviceStats Uptime Timestamp CPUTicksConsumed",
        Memory=Ptr("HostMemoryStats"),
        CPU=Slice("HostCPUStats"),
        DiskStats=Slice("HostDiskStats"),
        AllocDirStats=Ptr("HostDiskStats"),
        Uptime=0,
        Timestamp=0,
        CPUTicksConsumed=0,
    ),
    "HostMemoryStats": struct_fields("Total Available Used Free", 0),
    "HostCPUStats": struct_fields("CPU User System Idle Total", 0, CPU=""),
    "HostDiskStats": struct_fields(
        "Device Mountpoint Size Used Available UsedPercent InodesUsedPercent",
        0,
        Device="",
        Mountpoint="",
    ),
    # command/agent/agent_endpoint.go Self (json tags lower-case) and api/agent.go AgentMember
    "AgentSelf": struct_fields("config member stats", member=Value("AgentMember")),
    "AgentMember": struct_fields(
        "Name Addr Port Tags Status ProtocolMin ProtocolMax ProtocolCur DelegateMin "
        "DelegateMax DelegateCur",
        0,
        Name="",
        Addr="",
        Tags=None,
        Status="",
    ),
}


def completer(structs: dict[str, dict[str, Any]]) -> Callable[[str, dict | None], dict | None]:
    """A :func:`complete` over another package's tables (the api package's, the agent's)."""
    plans = {
        name: [(field, *_plan(kind)) for field, kind in table.items()]
        for name, table in structs.items()
    }

    def complete(name: str, obj: dict | None) -> dict | None:
        """``obj`` as Nomad encodes a ``name``: every field in Go order, zeros where unset,
        nested structs completed too; keys Nomad does not encode are left out."""
        if obj is None:
            return None
        out = {}
        get = obj.get
        for field, mode, arg in plans[name]:  # a hot path: every response goes through it
            value = get(field, _MISSING)
            if mode == _SCALAR:
                out[field] = arg if value is _MISSING else value
            elif value is _MISSING or value is None:
                if mode != _OMIT:
                    out[field] = complete(arg, {}) if mode == _VALUE else None
            elif mode == _SLICE:
                out[field] = [complete(arg, item) for item in value]
            elif mode == _MAP:
                out[field] = {key: complete(arg, item) for key, item in value.items()}
            else:
                out[field] = complete(arg, value)
        return out

    return complete


_MISSING = object()
_SCALAR, _PTR, _SLICE, _MAP, _VALUE, _OMIT = range(6)


def _plan(kind: Any) -> tuple[int, Any]:
    if isinstance(kind, Value):
        return _VALUE, kind.name
    if isinstance(kind, Slice):
        return _SLICE, kind.name
    if isinstance(kind, Map):
        return _MAP, kind.name
    if isinstance(kind, OmitEmpty):
        return _OMIT, kind.name
    if isinstance(kind, Ptr):
        return _PTR, kind.name
    return _SCALAR, kind


complete = completer(STRUCTS)


def keys(name: str) -> list[str]:
    """The field names of a struct, in Go order."""
    return list(STRUCTS[name])


def differences(name: str, obj: Any, path: str = "") -> list[str]:
    """Keys of ``obj`` that Nomad's ``name`` lacks (``+key``) or has and ``obj`` lacks
    (``-key``), nested structs included: what a key-completeness check counts."""
    if not isinstance(obj, dict):
        return []
    spec = STRUCTS[name]
    found = [f"-{path}{key}" for key in spec if key not in obj]
    found += [f"+{path}{key}" for key in obj if key not in spec]
    for key, kind in spec.items():
        value = obj.get(key)
        if not isinstance(kind, Ptr) or value is None:
            continue
        if isinstance(kind, Slice) and isinstance(value, list):
            items = [(f"{key}[{i}].", item) for i, item in enumerate(value)]
        elif isinstance(kind, Map) and isinstance(value, dict):
            items = [(f"{key}[{k}].", item) for k, item in value.items()]
        else:
            items = [(f"{key}.", value)]
        for prefix, item in items:
            found += differences(kind.name, item, path + prefix)
    return found


# What the tutorial's endpoints answer with: (path, struct, a list of them?). ``{job}``,
# ``{alloc}``, ``{eval}``, ``{deployment}`` and ``{node}`` stand for a live object's ID.
TUTORIAL_ENDPOINTS: tuple[tuple[str, str, bool], ...] = (
    ("/v1/jobs", "JobListStub", True),
    ("/v1/job/{job}", "Job", False),
    ("/v1/job/{job}/allocations", "AllocListStub", True),
    ("/v1/job/{job}/evaluations", "Evaluation", True),
    ("/v1/job/{job}/deployments", "Deployment", True),
    ("/v1/job/{job}/deployment", "Deployment", False),
    ("/v1/job/{job}/versions", "JobVersionsResponse", False),
    ("/v1/allocations", "AllocListStub", True),
    ("/v1/allocation/{alloc}", "Allocation", False),
    ("/v1/client/allocation/{alloc}/stats", "AllocResourceUsage", False),
    ("/v1/evaluations", "Evaluation", True),
    ("/v1/evaluation/{eval}", "Evaluation", False),
    ("/v1/deployments", "Deployment", True),
    ("/v1/deployment/{deployment}", "Deployment", False),
    ("/v1/deployment/allocations/{deployment}", "AllocListStub", True),
    ("/v1/nodes", "NodeListStub", True),
    ("/v1/node/{node}", "Node", False),
    ("/v1/node/{node}/allocations", "Allocation", True),
    ("/v1/agent/self", "AgentSelf", False),
)


def endpoint_differences(name: str, many: bool, body: Any) -> list[str]:
    """:func:`differences` over one endpoint's answer (a list answer, item by item)."""
    if many:
        return [d for i, item in enumerate(body or []) for d in differences(name, item, f"[{i}].")]
    return differences(name, body)
