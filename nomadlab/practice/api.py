"""Nomad's api package's job types as Go's ``encoding/json`` writes them, in Go order.

``POST /v1/jobs/parse`` answers an ``api.Job`` (jobspec2's result, canonicalized by
``api.Job.Canonicalize`` when asked), not a ``structs.Job``: its own field order, its pointer
fields (``*string``, ``*int``...) ``null`` when unset, a few fields ``structs`` lacks
(``Reschedule``, ``Migrate``, ``Multiregion``). Only ``Task.CSIPluginConfig`` is tagged
``omitempty``. Each table names the Go file of its type (Nomad 1.9); the entries are as
in :mod:`nomadlab.practice.structs.fields`.
"""

from __future__ import annotations

from typing import Any

from nomadlab.practice.structs.fields import (
    Map,
    OmitEmpty,
    Ptr,
    Slice,
    completer,
    struct_fields,
)

STRUCTS: dict[str, dict[str, Any]] = {
    # api/jobs.go Job
    "Job": struct_fields(
        "Region Namespace ID Name Type Priority AllAtOnce Datacenters NodePool Constraints "
        "Affinities TaskGroups Update Multiregion Spreads Periodic ParameterizedJob "
        "Reschedule Migrate Meta ConsulToken VaultToken UI Stop ParentID Dispatched "
        "DispatchIdempotencyToken Payload ConsulNamespace VaultNamespace NomadTokenID Status "
        "StatusDescription Stable Version SubmitTime CreateIndex ModifyIndex JobModifyIndex "
        "VersionTag",
        Constraints=Slice("Constraint"),
        Affinities=Slice("Affinity"),
        TaskGroups=Slice("TaskGroup"),
        Update=Ptr("UpdateStrategy"),
        Multiregion=Ptr("Multiregion"),
        Spreads=Slice("Spread"),
        Periodic=Ptr("PeriodicConfig"),
        ParameterizedJob=Ptr("ParameterizedJobConfig"),
        Reschedule=Ptr("ReschedulePolicy"),
        Migrate=Ptr("MigrateStrategy"),
        UI=Ptr("JobUIConfig"),
        Dispatched=False,
        VersionTag=Ptr("JobVersionTag"),
    ),
    # api/constraint.go Constraint
    "Constraint": struct_fields("LTarget RTarget Operand", ""),
    # api/tasks.go Affinity
    "Affinity": struct_fields("LTarget RTarget Operand Weight", "", Weight=None),
    # api/tasks.go TaskGroup
    "TaskGroup": struct_fields(
        "Name Count Constraints Affinities Tasks Spreads Volumes RestartPolicy Disconnect "
        "ReschedulePolicy EphemeralDisk Update Migrate Networks Meta Services ShutdownDelay "
        "StopAfterClientDisconnect MaxClientDisconnect Scaling Consul PreventRescheduleOnLost",
        Constraints=Slice("Constraint"),
        Affinities=Slice("Affinity"),
        Tasks=Slice("Task"),
        Spreads=Slice("Spread"),
        Volumes=Map("VolumeRequest"),
        RestartPolicy=Ptr("RestartPolicy"),
        Disconnect=Ptr("DisconnectStrategy"),
        ReschedulePolicy=Ptr("ReschedulePolicy"),
        EphemeralDisk=Ptr("EphemeralDisk"),
        Update=Ptr("UpdateStrategy"),
        Migrate=Ptr("MigrateStrategy"),
        Networks=Slice("NetworkResource"),
        Services=Slice("Service"),
        Scaling=Ptr("ScalingPolicy"),
        Consul=Ptr("Consul"),
    ),
    # api/jobs.go UpdateStrategy
    "UpdateStrategy": struct_fields(
        "Stagger MaxParallel HealthCheck MinHealthyTime HealthyDeadline ProgressDeadline "
        "Canary AutoRevert AutoPromote"
    ),
    # api/jobs.go Multiregion
    "Multiregion": struct_fields(
        "Strategy Regions", Strategy=Ptr("MultiregionStrategy"), Regions=Slice("MultiregionRegion")
    ),
    # api/tasks.go Spread
    "Spread": struct_fields(
        "Attribute Weight SpreadTarget", "", Weight=None, SpreadTarget=Slice("SpreadTarget")
    ),
    # api/jobs.go PeriodicConfig
    "PeriodicConfig": struct_fields("Enabled Spec Specs SpecType ProhibitOverlap TimeZone"),
    # api/jobs.go ParameterizedJobConfig
    "ParameterizedJobConfig": struct_fields("Payload MetaRequired MetaOptional", Payload=""),
    # api/tasks.go ReschedulePolicy
    "ReschedulePolicy": struct_fields("Attempts Interval Delay DelayFunction MaxDelay Unlimited"),
    # api/tasks.go MigrateStrategy
    "MigrateStrategy": struct_fields("MaxParallel HealthCheck MinHealthyTime HealthyDeadline"),
    # api/jobs.go JobUIConfig
    "JobUIConfig": struct_fields("Description Links", "", Links=Slice("JobUILink")),
    # api/jobs.go JobVersionTag
    "JobVersionTag": struct_fields("Name Description TaggedTime", "", TaggedTime=0),
    # api/tasks.go Task
    "Task": struct_fields(
        "Name Driver User Lifecycle Config Constraints Affinities Env Services Resources "
        "RestartPolicy Meta KillTimeout LogConfig Artifacts Vault Consul Templates "
        "DispatchPayload VolumeMounts CSIPluginConfig Leader ShutdownDelay KillSignal Kind "
        "ScalingPolicies Identity Identities Actions Schedule",
        "",
        Lifecycle=Ptr("TaskLifecycle"),
        Config=None,
        Constraints=Slice("Constraint"),
        Affinities=Slice("Affinity"),
        Env=None,
        Services=Slice("Service"),
        Resources=Ptr("Resources"),
        RestartPolicy=Ptr("RestartPolicy"),
        Meta=None,
        KillTimeout=None,
        LogConfig=Ptr("LogConfig"),
        Artifacts=Slice("TaskArtifact"),
        Vault=Ptr("Vault"),
        Consul=Ptr("Consul"),
        Templates=Slice("Template"),
        DispatchPayload=Ptr("DispatchPayloadConfig"),
        VolumeMounts=Slice("VolumeMount"),
        CSIPluginConfig=OmitEmpty("TaskCSIPluginConfig"),
        Leader=False,
        ShutdownDelay=0,
        ScalingPolicies=Slice("ScalingPolicy"),
        Identity=Ptr("WorkloadIdentity"),
        Identities=Slice("WorkloadIdentity"),
        Actions=Slice("Action"),
        Schedule=Ptr("TaskSchedule"),
    ),
    # api/tasks.go VolumeRequest
    "VolumeRequest": struct_fields(
        "Name Type Source ReadOnly AccessMode AttachmentMode MountOptions PerAlloc",
        "",
        ReadOnly=False,
        MountOptions=Ptr("CSIMountOptions"),
        PerAlloc=False,
    ),
    # api/tasks.go RestartPolicy
    "RestartPolicy": struct_fields("Interval Attempts Delay Mode RenderTemplates"),
    # api/tasks.go DisconnectStrategy
    "DisconnectStrategy": struct_fields("LostAfter StopOnClientAfter Replace Reconcile"),
    # api/tasks.go EphemeralDisk
    "EphemeralDisk": struct_fields("Sticky Migrate SizeMB"),
    # api/resources.go NetworkResource
    "NetworkResource": struct_fields(
        "Mode Device CIDR IP DNS ReservedPorts DynamicPorts Hostname MBits CNI",
        "",
        DNS=Ptr("DNSConfig"),
        ReservedPorts=Slice("Port"),
        DynamicPorts=Slice("Port"),
        MBits=None,
        CNI=Ptr("CNIConfig"),
    ),
    # api/services.go Service
    "Service": struct_fields(
        "Name Tags CanaryTags EnableTagOverride PortLabel AddressMode Address Checks "
        "CheckRestart Connect Meta CanaryMeta TaggedAddresses TaskName OnUpdate Identity "
        "Weights Provider Cluster",
        "",
        Tags=None,
        CanaryTags=None,
        EnableTagOverride=False,
        Checks=Slice("ServiceCheck"),
        CheckRestart=Ptr("CheckRestart"),
        Connect=Ptr("ConsulConnect"),
        Meta=None,
        CanaryMeta=None,
        TaggedAddresses=None,
        Identity=Ptr("WorkloadIdentity"),
        Weights=Ptr("ServiceWeights"),
    ),
    # api/scaling.go ScalingPolicy
    "ScalingPolicy": struct_fields(
        "Min Max Policy Enabled Type ID Namespace Target CreateIndex ModifyIndex",
        Type="",
        ID="",
        Namespace="",
        CreateIndex=0,
        ModifyIndex=0,
    ),
    # api/consul.go Consul
    "Consul": struct_fields("Namespace Cluster Partition", ""),
    # api/jobs.go MultiregionStrategy
    "MultiregionStrategy": struct_fields("MaxParallel OnFailure"),
    # api/jobs.go MultiregionRegion
    "MultiregionRegion": struct_fields(
        "Name Count Datacenters NodePool Meta", Name="", NodePool=""
    ),
    # api/tasks.go SpreadTarget
    "SpreadTarget": struct_fields("Value Percent", "", Percent=0),
    # api/jobs.go JobUILink
    "JobUILink": struct_fields("Label URL", ""),
    # api/tasks.go TaskLifecycle
    "TaskLifecycle": struct_fields("Hook Sidecar", "", Sidecar=False),
    # api/resources.go Resources
    "Resources": struct_fields(
        "CPU Cores MemoryMB MemoryMaxMB DiskMB Networks Devices NUMA SecretsMB IOPS",
        Networks=Slice("NetworkResource"),
        Devices=Slice("RequestedDevice"),
        NUMA=Ptr("NUMAResource"),
    ),
    # api/tasks.go LogConfig
    "LogConfig": struct_fields("MaxFiles MaxFileSizeMB Enabled Disabled"),
    # api/tasks.go TaskArtifact
    "TaskArtifact": struct_fields(
        "GetterSource GetterOptions GetterHeaders GetterMode GetterInsecure RelativeDest Chown",
        Chown=False,
    ),
    # api/tasks.go Vault
    "Vault": struct_fields(
        "Policies Role Namespace Cluster Env DisableFile ChangeMode ChangeSignal "
        "AllowTokenExpiration",
        Role="",
        Cluster="",
    ),
    # api/tasks.go Template
    "Template": struct_fields(
        "SourcePath DestPath EmbeddedTmpl ChangeMode ChangeScript ChangeSignal Splay Perms "
        "Uid Gid LeftDelim RightDelim Envvars VaultGrace Wait ErrMissingKey",
        ChangeScript=Ptr("ChangeScript"),
        Wait=Ptr("WaitConfig"),
    ),
    # api/tasks.go DispatchPayloadConfig
    "DispatchPayloadConfig": struct_fields("File", ""),
    # api/tasks.go VolumeMount
    "VolumeMount": struct_fields("Volume Destination ReadOnly PropagationMode SELinuxLabel"),
    # api/tasks.go TaskCSIPluginConfig
    "TaskCSIPluginConfig": struct_fields(
        "ID Type MountDir StagePublishBaseDir HealthTimeout", "", HealthTimeout=0
    ),
    # api/tasks.go WorkloadIdentity
    "WorkloadIdentity": struct_fields(
        "Name Audience ChangeMode ChangeSignal Env File Filepath ServiceName TTL",
        "",
        Audience=None,
        Env=False,
        File=False,
        TTL=0,
    ),
    # api/tasks.go Action
    "Action": struct_fields("Name Command Args", "", Args=None),
    # api/task_sched.go TaskSchedule
    "TaskSchedule": struct_fields("Cron", Cron=Ptr("TaskScheduleCron")),
    # api/csi.go CSIMountOptions
    "CSIMountOptions": struct_fields("FSType MountFlags", "", MountFlags=None),
    # api/resources.go DNSConfig
    "DNSConfig": struct_fields("Servers Searches Options"),
    # api/resources.go Port
    "Port": struct_fields(
        "Label Value To HostNetwork IgnoreCollision", "", Value=0, To=0, IgnoreCollision=False
    ),
    # api/resources.go CNIConfig
    "CNIConfig": struct_fields("Args"),
    # api/services.go ServiceCheck
    "ServiceCheck": struct_fields(
        "Name Type Command Args Path Protocol PortLabel Expose AddressMode Advertise Interval "
        "Timeout InitialStatus Notes TLSServerName TLSSkipVerify Header Method CheckRestart "
        "GRPCService GRPCUseTLS TaskName SuccessBeforePassing FailuresBeforeCritical "
        "FailuresBeforeWarning Body OnUpdate",
        "",
        Args=None,
        Expose=False,
        Interval=0,
        Timeout=0,
        TLSSkipVerify=False,
        Header=None,
        CheckRestart=Ptr("CheckRestart"),
        GRPCUseTLS=False,
        SuccessBeforePassing=0,
        FailuresBeforeCritical=0,
        FailuresBeforeWarning=0,
    ),
    # api/services.go CheckRestart
    "CheckRestart": struct_fields(
        "Limit Grace IgnoreWarnings", 0, Grace=None, IgnoreWarnings=False
    ),
    # api/consul.go ConsulConnect
    "ConsulConnect": struct_fields(
        "Native Gateway SidecarService SidecarTask",
        False,
        Gateway=Ptr("ConsulGateway"),
        SidecarService=Ptr("ConsulSidecarService"),
        SidecarTask=Ptr("SidecarTask"),
    ),
    # api/services.go ServiceWeights
    "ServiceWeights": struct_fields("Passing Warning", 0),
    # api/resources.go RequestedDevice
    "RequestedDevice": struct_fields(
        "Name Count Constraints Affinities",
        "",
        Count=None,
        Constraints=Slice("Constraint"),
        Affinities=Slice("Affinity"),
    ),
    # api/resources.go NUMAResource
    "NUMAResource": struct_fields("Affinity Devices", "", Devices=None),
    # api/tasks.go ChangeScript
    "ChangeScript": struct_fields("Command Args Timeout FailOnError"),
    # api/tasks.go WaitConfig
    "WaitConfig": struct_fields("Min Max"),
    # api/task_sched.go TaskScheduleCron
    "TaskScheduleCron": struct_fields("Start End Timezone", ""),
    # api/consul.go ConsulGateway
    "ConsulGateway": struct_fields(
        "Proxy Ingress Terminating Mesh",
        Proxy=Ptr("ConsulGatewayProxy"),
        Ingress=Ptr("ConsulIngressConfigEntry"),
        Terminating=Ptr("ConsulTerminatingConfigEntry"),
        Mesh=Ptr("ConsulMeshConfigEntry"),
    ),
    # api/consul.go ConsulSidecarService
    "ConsulSidecarService": struct_fields(
        "Tags Port Proxy DisableDefaultTCPCheck Meta",
        Port="",
        Proxy=Ptr("ConsulProxy"),
        DisableDefaultTCPCheck=False,
    ),
    # api/consul.go SidecarTask
    "SidecarTask": struct_fields(
        "Name Driver User Config Env Resources Meta KillTimeout LogConfig ShutdownDelay "
        "KillSignal VolumeMounts",
        Name="",
        Driver="",
        User="",
        Resources=Ptr("Resources"),
        LogConfig=Ptr("LogConfig"),
        KillSignal="",
        VolumeMounts=Slice("VolumeMount"),
    ),
    # api/consul.go ConsulGatewayProxy
    "ConsulGatewayProxy": struct_fields(
        "ConnectTimeout EnvoyGatewayBindTaggedAddresses EnvoyGatewayBindAddresses "
        "EnvoyGatewayNoDefaultBind EnvoyDNSDiscoveryType Config",
        EnvoyGatewayBindTaggedAddresses=False,
        EnvoyGatewayBindAddresses=Map("ConsulGatewayBindAddress"),
        EnvoyGatewayNoDefaultBind=False,
        EnvoyDNSDiscoveryType="",
    ),
    # api/consul.go ConsulIngressConfigEntry
    "ConsulIngressConfigEntry": struct_fields(
        "TLS Listeners", TLS=Ptr("ConsulGatewayTLSConfig"), Listeners=Slice("ConsulIngressListener")
    ),
    # api/consul.go ConsulTerminatingConfigEntry
    "ConsulTerminatingConfigEntry": struct_fields(
        "Services", Services=Slice("ConsulLinkedService")
    ),
    # api/consul.go ConsulMeshConfigEntry
    "ConsulMeshConfigEntry": struct_fields(""),
    # api/consul.go ConsulProxy
    "ConsulProxy": struct_fields(
        "LocalServiceAddress LocalServicePort Expose ExposeConfig Upstreams TransparentProxy "
        "Config",
        "",
        LocalServicePort=0,
        Expose=Ptr("ConsulExposeConfig"),
        ExposeConfig=Ptr("ConsulExposeConfig"),
        Upstreams=Slice("ConsulUpstream"),
        TransparentProxy=Ptr("ConsulTransparentProxy"),
        Config=None,
    ),
    # api/consul.go ConsulGatewayBindAddress
    "ConsulGatewayBindAddress": struct_fields("Name Address Port", "", Port=0),
    # api/consul.go ConsulGatewayTLSConfig
    "ConsulGatewayTLSConfig": struct_fields(
        "Enabled TLSMinVersion TLSMaxVersion CipherSuites SDS",
        "",
        Enabled=False,
        CipherSuites=None,
        SDS=Ptr("ConsulGatewayTLSSDSConfig"),
    ),
    # api/consul.go ConsulIngressListener
    "ConsulIngressListener": struct_fields(
        "Port Protocol Services", 0, Protocol="", Services=Slice("ConsulIngressService")
    ),
    # api/consul.go ConsulLinkedService
    "ConsulLinkedService": struct_fields("Name CAFile CertFile KeyFile SNI", ""),
    # api/consul.go ConsulExposeConfig
    "ConsulExposeConfig": struct_fields(
        "Paths Path", Paths=Slice("ConsulExposePath"), Path=Slice("ConsulExposePath")
    ),
    # api/consul.go ConsulUpstream
    "ConsulUpstream": struct_fields(
        "DestinationName DestinationNamespace DestinationPeer DestinationPartition "
        "DestinationType LocalBindPort Datacenter LocalBindAddress LocalBindSocketPath "
        "LocalBindSocketMode MeshGateway Config",
        "",
        LocalBindPort=0,
        MeshGateway=Ptr("ConsulMeshGateway"),
        Config=None,
    ),
    # api/consul.go ConsulTransparentProxy
    "ConsulTransparentProxy": struct_fields(
        "UID OutboundPort ExcludeInboundPorts ExcludeOutboundPorts ExcludeOutboundCIDRs "
        "ExcludeUIDs NoDNS",
        UID="",
        OutboundPort=0,
        NoDNS=False,
    ),
    # api/consul.go ConsulGatewayTLSSDSConfig
    "ConsulGatewayTLSSDSConfig": struct_fields("ClusterName CertResource", ""),
    # api/consul.go ConsulIngressService
    "ConsulIngressService": struct_fields(
        "Name Hosts TLS RequestHeaders ResponseHeaders MaxConnections MaxPendingRequests "
        "MaxConcurrentRequests",
        Name="",
        TLS=Ptr("ConsulGatewayTLSConfig"),
        RequestHeaders=Ptr("ConsulHTTPHeaderModifiers"),
        ResponseHeaders=Ptr("ConsulHTTPHeaderModifiers"),
    ),
    # api/consul.go ConsulExposePath
    "ConsulExposePath": struct_fields(
        "Path Protocol LocalPathPort ListenerPort", "", LocalPathPort=0
    ),
    # api/consul.go ConsulMeshGateway
    "ConsulMeshGateway": struct_fields("Mode", ""),
    # api/consul.go ConsulHTTPHeaderModifiers
    "ConsulHTTPHeaderModifiers": struct_fields("Add Set Remove"),
}

#: An api type's object (``complete("Job", job)``) as Nomad's HTTP API sends it.
complete = completer(STRUCTS)


def drop_nulls(name: str, obj: dict) -> dict:
    """``obj`` decoded as Go decodes a ``name``: a ``null`` field is the same as an absent
    one (a nil pointer, slice or map, or a zero value), so it is removed, in nested structs
    too; maps of plain values (``Meta``, a task's ``Config``) are kept as sent."""
    table = STRUCTS[name]
    for field in [f for f, value in obj.items() if value is None and f in table]:
        del obj[field]
    for field, kind in table.items():
        value = obj.get(field)
        if not isinstance(kind, Ptr) or value is None:
            continue
        if isinstance(kind, Slice) and isinstance(value, list):
            items = value
        elif isinstance(kind, Map) and isinstance(value, dict):
            items = list(value.values())
        else:
            items = [value]
        for item in items:
            if isinstance(item, dict):
                drop_nulls(kind.name, item)
    return obj
