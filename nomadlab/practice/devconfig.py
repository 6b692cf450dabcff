"""command/agent/config.go's ``Config`` as ``GET /v1/agent/self`` sends it, for the practice
agent: ``DefaultConfig()``, then ``DevConfig()`` for a dev agent, then ``normalizeAddrs``,
then what the practice agent runs with (ports, data dir, ACLs, heartbeat timers).

The tables list every field Go encodes (none of these types is tagged ``omitempty``; the
fields tagged ``json:"-"`` are left out), in Go order, as in
:mod:`nomadlab.practice.structs.fields`. Each names the Go file of its type (Nomad 1.9).
"""

from __future__ import annotations

from typing import Any

from nomadlab.contract import MINUTE, SECOND
from nomadlab.practice.structs.fields import Ptr, Slice, Value, completer, struct_fields

STRUCTS: dict[str, dict[str, Any]] = {
    # command/agent/config.go Config
    "Config": struct_fields(
        "Region Datacenter NodeName DataDir PluginDir LogLevel LogJson LogFile "
        "LogIncludeLocation LogRotateDuration LogRotateBytes LogRotateMaxFiles BindAddr "
        "EnableDebug Ports Addresses AdvertiseAddrs Client Server ACL Telemetry LeaveOnInt "
        "LeaveOnTerm EnableSyslog SyslogFacility DisableUpdateCheck DisableAnonymousSignature "
        "Consuls Vaults UI DevMode Version Files TLSConfig HTTPAPIResponseHeaders Sentinel "
        "Autopilot Plugins Limits Audit Reporting KEKProviders",
        "",
        LogJson=False,
        LogIncludeLocation=False,
        LogRotateBytes=0,
        LogRotateMaxFiles=0,
        EnableDebug=False,
        Ports=Ptr("Ports"),
        Addresses=Ptr("Addresses"),
        AdvertiseAddrs=Ptr("AdvertiseAddrs"),
        Client=Ptr("ClientConfig"),
        Server=Ptr("ServerConfig"),
        ACL=Ptr("ACLConfig"),
        Telemetry=Ptr("Telemetry"),
        LeaveOnInt=False,
        LeaveOnTerm=False,
        EnableSyslog=False,
        DisableUpdateCheck=None,
        DisableAnonymousSignature=False,
        Consuls=Slice("ConsulConfig"),
        Vaults=Slice("VaultConfig"),
        UI=Ptr("UIConfig"),
        DevMode=False,
        Version=Ptr("VersionInfo"),
        Files=None,
        TLSConfig=Ptr("TLSConfig"),
        HTTPAPIResponseHeaders=None,
        Sentinel=Ptr("SentinelConfig"),
        Autopilot=Ptr("AutopilotConfig"),
        Plugins=Slice("PluginConfig"),
        Limits=Value("Limits"),
        Audit=Ptr("AuditConfig"),
        Reporting=Ptr("ReportingConfig"),
        KEKProviders=Slice("KEKProviderConfig"),
    ),
    # command/agent/config.go Ports
    "Ports": struct_fields("HTTP RPC Serf", 0),
    # command/agent/config.go Addresses
    "Addresses": struct_fields("HTTP RPC Serf", ""),
    # command/agent/config.go AdvertiseAddrs
    "AdvertiseAddrs": struct_fields("HTTP RPC Serf", ""),
    # command/agent/config.go ClientConfig
    "ClientConfig": struct_fields(
        "Enabled StateDir AllocDir AllocMountsDir Servers NodeClass NodePool Options Meta "
        "ChrootEnv NetworkInterface PreferredAddressFamily NetworkSpeed CpuDisableDmidecode "
        "CpuCompute MemoryMB DiskTotalMB DiskFreeMB ReservableCores MaxKillTimeout "
        "ClientMaxPort ClientMinPort MaxDynamicPort MinDynamicPort Reserved GCInterval "
        "GCParallelDestroys GCDiskUsageThreshold GCInodeUsageThreshold GCMaxAllocs NoHostUUID "
        "DisableRemoteExec TemplateConfig ServerJoin HostVolumes CNIPath CNIConfigDir "
        "BridgeNetworkName BridgeNetworkSubnet BridgeNetworkSubnetIPv6 "
        "BridgeNetworkHairpinMode HostNetworks BindWildcardDefaultHostNetwork CgroupParent "
        "NomadServiceDiscovery Artifact Drain Users",
        "",
        Enabled=False,
        Servers=None,
        Options=None,
        Meta=None,
        ChrootEnv=None,
        NetworkSpeed=0,
        CpuDisableDmidecode=False,
        CpuCompute=0,
        MemoryMB=0,
        DiskTotalMB=0,
        DiskFreeMB=0,
        ClientMaxPort=0,
        ClientMinPort=0,
        MaxDynamicPort=0,
        MinDynamicPort=0,
        Reserved=Ptr("Resources"),
        GCInterval=0,
        GCParallelDestroys=0,
        GCDiskUsageThreshold=0,
        GCInodeUsageThreshold=0,
        GCMaxAllocs=0,
        NoHostUUID=None,
        DisableRemoteExec=False,
        TemplateConfig=Ptr("ClientTemplateConfig"),
        ServerJoin=Ptr("ServerJoin"),
        HostVolumes=Slice("ClientHostVolumeConfig"),
        BridgeNetworkHairpinMode=False,
        HostNetworks=Slice("ClientHostNetworkConfig"),
        BindWildcardDefaultHostNetwork=False,
        NomadServiceDiscovery=None,
        Artifact=Ptr("ArtifactConfig"),
        Drain=Ptr("DrainConfig"),
        Users=Ptr("UsersConfig"),
    ),
    # command/agent/config.go ServerConfig
    "ServerConfig": struct_fields(
        "Enabled AuthoritativeRegion BootstrapExpect DataDir RaftProtocol RaftMultiplier "
        "NumSchedulers EnabledSchedulers NodeGCThreshold JobGCInterval JobGCThreshold "
        "EvalGCThreshold BatchEvalGCThreshold DeploymentGCThreshold CSIVolumeClaimGCInterval "
        "CSIVolumeClaimGCThreshold CSIPluginGCThreshold ACLTokenGCThreshold RootKeyGCInterval "
        "RootKeyGCThreshold RootKeyRotationThreshold HeartbeatGrace MinHeartbeatTTL "
        "MaxHeartbeatsPerSecond FailoverHeartbeatTTL StartJoin RetryJoin RetryMaxAttempts "
        "RetryInterval RejoinAfterLeave NonVotingServer RedundancyZone UpgradeVersion "
        "ServerJoin DefaultSchedulerConfig PlanRejectionTracker EnableEventBroker "
        "EventBufferSize LicensePath LicenseEnv Search DeploymentQueryRateLimit "
        "RaftBoltConfig RaftSnapshotThreshold RaftSnapshotInterval RaftTrailingLogs "
        "JobDefaultPriority JobMaxPriority JobMaxSourceSize JobTrackedVersions OIDCIssuer",
        "",
        Enabled=False,
        BootstrapExpect=0,
        RaftProtocol=0,
        RaftMultiplier=None,
        NumSchedulers=None,
        EnabledSchedulers=None,
        HeartbeatGrace=0,
        MinHeartbeatTTL=0,
        MaxHeartbeatsPerSecond=0,
        FailoverHeartbeatTTL=0,
        StartJoin=None,
        RetryJoin=None,
        RetryMaxAttempts=0,
        RetryInterval=0,
        RejoinAfterLeave=False,
        NonVotingServer=False,
        ServerJoin=Ptr("ServerJoin"),
        DefaultSchedulerConfig=Ptr("SchedulerConfiguration"),
        PlanRejectionTracker=Ptr("PlanRejectionTracker"),
        EnableEventBroker=None,
        EventBufferSize=None,
        Search=Ptr("Search"),
        DeploymentQueryRateLimit=0,
        RaftBoltConfig=Ptr("RaftBoltConfig"),
        RaftSnapshotThreshold=None,
        RaftSnapshotInterval=None,
        RaftTrailingLogs=None,
        JobDefaultPriority=None,
        JobMaxPriority=None,
        JobMaxSourceSize=None,
        JobTrackedVersions=None,
    ),
    # command/agent/config.go ACLConfig
    "ACLConfig": struct_fields(
        "Enabled TokenTTL PolicyTTL RoleTTL ReplicationToken TokenMinExpirationTTL "
        "TokenMaxExpirationTTL",
        0,
        Enabled=False,
        ReplicationToken="",
    ),
    # command/agent/config.go Telemetry
    "Telemetry": struct_fields(
        "InMemoryCollectionInterval InMemoryRetentionPeriod StatsiteAddr StatsdAddr "
        "DataDogAddr DataDogTags PrometheusMetrics DisableHostname UseNodeName "
        "CollectionInterval PublishAllocationMetrics PublishNodeMetrics "
        "IncludeAllocMetadataInMetrics AllowedMetadataKeysInMetrics PrefixFilter "
        "FilterDefault DisableDispatchedJobSummaryMetrics DisableQuotaUtilizationMetrics "
        "DisableRPCRateMetricsLabels DisableAllocationHookMetrics CirconusAPIToken "
        "CirconusAPIApp CirconusAPIURL CirconusSubmissionInterval CirconusCheckSubmissionURL "
        "CirconusCheckID CirconusCheckForceMetricActivation CirconusCheckInstanceID "
        "CirconusCheckSearchTag CirconusCheckTags CirconusCheckDisplayName CirconusBrokerID "
        "CirconusBrokerSelectTag",
        "",
        DataDogTags=None,
        PrometheusMetrics=False,
        DisableHostname=False,
        UseNodeName=False,
        PublishAllocationMetrics=False,
        PublishNodeMetrics=False,
        IncludeAllocMetadataInMetrics=False,
        AllowedMetadataKeysInMetrics=None,
        PrefixFilter=None,
        FilterDefault=None,
        DisableDispatchedJobSummaryMetrics=False,
        DisableQuotaUtilizationMetrics=False,
        DisableRPCRateMetricsLabels=False,
        DisableAllocationHookMetrics=None,
    ),
    # nomad/structs/config/consul.go ConsulConfig
    "ConsulConfig": struct_fields(
        "Name ServerServiceName ServerHTTPCheckName ServerSerfCheckName ServerRPCCheckName "
        "ServerFailuresBeforeCritical ServerFailuresBeforeWarning ClientServiceName "
        "ClientHTTPCheckName ClientFailuresBeforeCritical ClientFailuresBeforeWarning Tags "
        "AutoAdvertise ChecksUseAdvertise Addr GRPCAddr Timeout Token AllowUnauthenticated "
        "Auth EnableSSL ShareSSL VerifySSL GRPCCAFile CAFile CertFile KeyFile ServerAutoJoin "
        "ClientAutoJoin Namespace ServiceIdentity ServiceIdentityAuthMethod TaskIdentity "
        "TaskIdentityAuthMethod",
        "",
        ServerFailuresBeforeCritical=0,
        ServerFailuresBeforeWarning=0,
        ClientFailuresBeforeCritical=0,
        ClientFailuresBeforeWarning=0,
        Tags=None,
        AutoAdvertise=None,
        ChecksUseAdvertise=None,
        Timeout=0,
        AllowUnauthenticated=None,
        EnableSSL=None,
        ShareSSL=None,
        VerifySSL=None,
        ServerAutoJoin=None,
        ClientAutoJoin=None,
        ServiceIdentity=Ptr("WorkloadIdentityConfig"),
        TaskIdentity=Ptr("WorkloadIdentityConfig"),
    ),
    # nomad/structs/config/vault.go VaultConfig
    "VaultConfig": struct_fields(
        "Name Enabled Role Namespace Addr JWTAuthBackendPath ConnectionRetryIntv TLSCaFile "
        "TLSCaPath TLSCertFile TLSKeyFile TLSSkipVerify TLSServerName DefaultIdentity Token "
        "AllowUnauthenticated TaskTokenTTL",
        "",
        Enabled=None,
        ConnectionRetryIntv=0,
        TLSSkipVerify=None,
        DefaultIdentity=Ptr("WorkloadIdentityConfig"),
        AllowUnauthenticated=None,
    ),
    # nomad/structs/config/ui.go UIConfig
    "UIConfig": struct_fields(
        "Enabled ContentSecurityPolicy Consul Vault Label",
        False,
        ContentSecurityPolicy=Ptr("ContentSecurityPolicy"),
        Consul=Ptr("ConsulUIConfig"),
        Vault=Ptr("VaultUIConfig"),
        Label=Ptr("LabelUIConfig"),
    ),
    # nomad/structs/config/tls.go TLSConfig
    "TLSConfig": struct_fields(
        "EnableHTTP EnableRPC VerifyServerHostname CAFile CertFile KeyLoader KeyFile "
        "RPCUpgradeMode VerifyHTTPSClient Checksum TLSCipherSuites TLSMinVersion",
        "",
        EnableHTTP=False,
        EnableRPC=False,
        VerifyServerHostname=False,
        KeyLoader=Ptr("KeyLoader"),
        RPCUpgradeMode=False,
        VerifyHTTPSClient=False,
    ),
    # nomad/structs/config/sentinel.go SentinelConfig
    "SentinelConfig": struct_fields("Imports", Imports=Slice("SentinelImport")),
    # nomad/structs/config/autopilot.go AutopilotConfig
    "AutopilotConfig": struct_fields(
        "CleanupDeadServers ServerStabilizationTime LastContactThreshold MaxTrailingLogs "
        "MinQuorum EnableRedundancyZones DisableUpgradeMigration EnableCustomUpgrades",
        ServerStabilizationTime=0,
        LastContactThreshold=0,
        MaxTrailingLogs=0,
        MinQuorum=0,
    ),
    # nomad/structs/config/plugins.go PluginConfig
    "PluginConfig": struct_fields("Name Args Config", Name=""),
    # nomad/structs/config/limits.go Limits
    "Limits": struct_fields(
        "HTTPSHandshakeTimeout HTTPMaxConnsPerClient RPCHandshakeTimeout RPCMaxConnsPerClient",
        "",
        HTTPMaxConnsPerClient=None,
        RPCMaxConnsPerClient=None,
    ),
    # nomad/structs/config/audit.go AuditConfig
    "AuditConfig": struct_fields(
        "Enabled Sinks Filters", Sinks=Slice("AuditSink"), Filters=Slice("AuditFilter")
    ),
    # nomad/structs/config/reporting.go ReportingConfig
    "ReportingConfig": struct_fields(
        "License ExportInterval", 0, License=Ptr("LicenseReportingConfig")
    ),
    # nomad/structs/keyring.go KEKProviderConfig
    "KEKProviderConfig": struct_fields("Provider Name Active", "", Active=False),
    # command/agent/config.go Resources
    "Resources": struct_fields(
        "CPU MemoryMB DiskMB ReservedPorts Cores", 0, ReservedPorts="", Cores=""
    ),
    # command/agent/config.go ServerJoin
    "ServerJoin": struct_fields(
        "StartJoin RetryJoin RetryMaxAttempts RetryInterval", RetryMaxAttempts=0, RetryInterval=0
    ),
    # nomad/structs/volumes.go ClientHostVolumeConfig
    "ClientHostVolumeConfig": struct_fields("Name Path ReadOnly", "", ReadOnly=False),
    # nomad/structs/network.go ClientHostNetworkConfig
    "ClientHostNetworkConfig": struct_fields("Name CIDR Interface ReservedPorts", ""),
    # nomad/structs/config/artifact.go ArtifactConfig
    "ArtifactConfig": struct_fields(
        "HTTPReadTimeout HTTPMaxSize GCSTimeout GitTimeout HgTimeout S3Timeout "
        "DecompressionFileCountLimit DecompressionSizeLimit DisableFilesystemIsolation "
        "FilesystemIsolationExtraPaths SetEnvironmentVariables"
    ),
    # nomad/structs/config/drain.go DrainConfig
    "DrainConfig": struct_fields("Deadline IgnoreSystemJobs Force"),
    # nomad/structs/config/users.go UsersConfig
    "UsersConfig": struct_fields("MinDynamicUser MaxDynamicUser"),
    # nomad/structs/operator.go SchedulerConfiguration
    "SchedulerConfiguration": struct_fields(
        "SchedulerAlgorithm PreemptionConfig MemoryOversubscriptionEnabled "
        "RejectJobRegistration PauseEvalBroker CreateIndex ModifyIndex",
        False,
        SchedulerAlgorithm="",
        PreemptionConfig=Value("PreemptionConfig"),
        CreateIndex=0,
        ModifyIndex=0,
    ),
    # command/agent/config.go PlanRejectionTracker
    "PlanRejectionTracker": struct_fields("Enabled NodeThreshold NodeWindow", 0, Enabled=None),
    # command/agent/config.go Search
    "Search": struct_fields(
        "FuzzyEnabled LimitQuery LimitResults MinTermLength", 0, FuzzyEnabled=False
    ),
    # command/agent/config.go RaftBoltConfig
    "RaftBoltConfig": struct_fields("NoFreelistSync", False),
    # nomad/structs/config/workload_id.go WorkloadIdentityConfig
    "WorkloadIdentityConfig": struct_fields(
        "Audience Env File Filepath TTL ExtraClaims", Filepath=""
    ),
    # nomad/structs/config/ui.go ContentSecurityPolicy
    "ContentSecurityPolicy": struct_fields(
        "ConnectSrc DefaultSrc FormAction FrameAncestors ImgSrc ScriptSrc StyleSrc"
    ),
    # nomad/structs/config/ui.go ConsulUIConfig
    "ConsulUIConfig": struct_fields("BaseUIURL", ""),
    # nomad/structs/config/ui.go VaultUIConfig
    "VaultUIConfig": struct_fields("BaseUIURL", ""),
    # nomad/structs/config/ui.go LabelUIConfig
    "LabelUIConfig": struct_fields("Text BackgroundColor TextColor", ""),
    # nomad/structs/config/tls.go KeyLoader
    "KeyLoader": struct_fields(""),
    # nomad/structs/config/sentinel.go SentinelImport
    "SentinelImport": struct_fields("Name Path Args", "", Args=None),
    # nomad/structs/config/audit.go AuditSink
    "AuditSink": struct_fields(
        "Name DeliveryGuarantee Type Format Path RotateDuration RotateBytes RotateMaxFiles Mode",
        "",
        RotateDuration=0,
        RotateBytes=0,
        RotateMaxFiles=0,
    ),
    # nomad/structs/config/audit.go AuditFilter
    "AuditFilter": struct_fields("Name Type Endpoints Stages Operations", Name="", Type=""),
    # nomad/structs/config/reporting.go LicenseReportingConfig
    "LicenseReportingConfig": struct_fields("Enabled"),
    # nomad/structs/operator.go PreemptionConfig
    "PreemptionConfig": struct_fields(
        "SystemSchedulerEnabled SysBatchSchedulerEnabled BatchSchedulerEnabled "
        "ServiceSchedulerEnabled",
        False,
    ),
    # version/version.go VersionInfo (BuildDate a time.Time)
    "VersionInfo": struct_fields(
        "BuildDate Revision Version VersionPrerelease VersionMetadata",
        "",
        BuildDate="0001-01-01T00:00:00Z",
    ),
    # client/config/config.go ClientTemplateConfig, WaitConfig, RetryConfig
    "ClientTemplateConfig": struct_fields(
        "FunctionDenylist FunctionBlacklist DisableSandbox MaxStale MaxStaleHCL "
        "BlockQueryWaitTime BlockQueryWaitTimeHCL Wait WaitBounds ConsulRetry VaultRetry "
        "NomadRetry",
        DisableSandbox=False,
        MaxStaleHCL="",
        BlockQueryWaitTimeHCL="",
        Wait=Ptr("WaitConfig"),
        WaitBounds=Ptr("WaitConfig"),
        ConsulRetry=Ptr("RetryConfig"),
        VaultRetry=Ptr("RetryConfig"),
        NomadRetry=Ptr("RetryConfig"),
    ),
    "WaitConfig": struct_fields("Min MinHCL Max MaxHCL", MinHCL="", MaxHCL=""),
    "RetryConfig": struct_fields(
        "Attempts Backoff BackoffHCL MaxBackoff MaxBackoffHCL", BackoffHCL="", MaxBackoffHCL=""
    ),
}

complete = completer(STRUCTS)

# client/config/config.go DefaultTemplateConfig's retries (Consul's, Vault's, Nomad's alike).
_TEMPLATE_RETRY = {"Attempts": 12, "Backoff": 250_000_000, "MaxBackoff": MINUTE}
_SERVER_JOIN = {"RetryJoin": [], "RetryInterval": 30 * SECOND, "RetryMaxAttempts": 0}


def default_config() -> dict:
    """config.go ``DefaultConfig()``: the fields it sets (the rest are Go's zero values)."""
    return {
        "LogLevel": "INFO",
        "Region": "global",
        "Datacenter": "dc1",
        "BindAddr": "0.0.0.0",
        "Ports": {"HTTP": 4646, "RPC": 4647, "Serf": 4648},
        "Addresses": {},
        "AdvertiseAddrs": {},
        # nomad/structs/config consul.go DefaultConsulConfig (Consul's api defaults: no env)
        "Consuls": [{
            "Name": "default", "ServerServiceName": "nomad",
            "ServerHTTPCheckName": "Nomad Server HTTP Check",
            "ServerSerfCheckName": "Nomad Server Serf Check",
            "ServerRPCCheckName": "Nomad Server RPC Check",
            "ClientServiceName": "nomad-client", "ClientHTTPCheckName": "Nomad Client HTTP Check",
            "AutoAdvertise": True, "ChecksUseAdvertise": False, "ServerAutoJoin": True,
            "ClientAutoJoin": True, "AllowUnauthenticated": True, "Timeout": 5 * SECOND,
            "ServiceIdentityAuthMethod": "nomad-workloads",
            "TaskIdentityAuthMethod": "nomad-workloads",
            "Addr": "127.0.0.1:8500", "EnableSSL": False, "VerifySSL": True,
        }],
        # vault.go DefaultVaultConfig
        "Vaults": [{
            "Name": "default", "Addr": "https://vault.service.consul:8200",
            "JWTAuthBackendPath": "jwt-nomad", "ConnectionRetryIntv": 30 * SECOND,
            "AllowUnauthenticated": True,
        }],
        # ui.go DefaultUIConfig, DefaultCSPConfig
        "UI": {
            "Enabled": True, "Consul": {}, "Vault": {}, "Label": {},
            "ContentSecurityPolicy": {
                "ConnectSrc": ["*"], "DefaultSrc": ["'none'"], "FormAction": ["'none'"],
                "FrameAncestors": ["'none'"], "ImgSrc": ["'self'", "data:"],
                "ScriptSrc": ["'self'"], "StyleSrc": ["'self'", "'unsafe-inline'"],
            },
        },
        "Client": {
            "Enabled": False, "NodePool": "default", "MaxKillTimeout": "30s",
            "ClientMinPort": 14000, "ClientMaxPort": 14512,
            "MinDynamicPort": 20000, "MaxDynamicPort": 32000,
            "Reserved": {}, "GCInterval": MINUTE, "GCParallelDestroys": 2,
            "GCDiskUsageThreshold": 80, "GCInodeUsageThreshold": 70, "GCMaxAllocs": 50,
            "NoHostUUID": True, "DisableRemoteExec": False, "ServerJoin": dict(_SERVER_JOIN),
            "TemplateConfig": {
                "FunctionDenylist": ["executeTemplate", "plugin", "writeToFile"],
                "BlockQueryWaitTime": 5 * MINUTE, "MaxStale": 87600 * 60 * MINUTE,
                "Wait": {"Min": 5 * SECOND, "Max": 4 * MINUTE},
                "ConsulRetry": dict(_TEMPLATE_RETRY), "VaultRetry": dict(_TEMPLATE_RETRY),
                "NomadRetry": dict(_TEMPLATE_RETRY),
            },
            "BindWildcardDefaultHostNetwork": True, "CNIPath": "/opt/cni/bin",
            "CNIConfigDir": "/opt/cni/config", "NomadServiceDiscovery": True,
            # artifact.go DefaultArtifactConfig, users.go DefaultUsersConfig
            "Artifact": {
                "HTTPReadTimeout": "30m", "HTTPMaxSize": "100GB", "GCSTimeout": "30m",
                "GitTimeout": "30m", "HgTimeout": "30m", "S3Timeout": "30m",
                "DecompressionFileCountLimit": 4096, "DecompressionSizeLimit": "100GB",
                "DisableFilesystemIsolation": False, "SetEnvironmentVariables": "",
            },
            "Users": {"MinDynamicUser": 80_000, "MaxDynamicUser": 89_999},
        },
        "Server": {
            "Enabled": False, "EnableEventBroker": True, "EventBufferSize": 100,
            "RaftProtocol": 3, "StartJoin": [],
            "PlanRejectionTracker": {
                "Enabled": False, "NodeThreshold": 100, "NodeWindow": 5 * MINUTE,
            },
            "ServerJoin": dict(_SERVER_JOIN),
            "Search": {
                "FuzzyEnabled": True, "LimitQuery": 20, "LimitResults": 100, "MinTermLength": 2,
            },
            "JobMaxSourceSize": "1M", "JobTrackedVersions": 6,
        },
        "ACL": {
            "Enabled": False, "TokenTTL": 30 * SECOND, "PolicyTTL": 30 * SECOND,
            "RoleTTL": 30 * SECOND,
        },
        "SyslogFacility": "LOCAL0",
        "Telemetry": {
            "InMemoryCollectionInterval": "10s", "InMemoryRetentionPeriod": "1m",
            "CollectionInterval": "1s", "DisableAllocationHookMetrics": False,
        },
        "TLSConfig": {},
        "Sentinel": {},
        "Version": {"Version": "1.9.7", "Revision": "nomadlab-practice"},
        # autopilot.go DefaultAutopilotConfig, limits.go DefaultLimits, reporting.go
        "Autopilot": {
            "LastContactThreshold": 200_000_000, "MaxTrailingLogs": 250,
            "ServerStabilizationTime": 10 * SECOND,
        },
        "Audit": {},
        "DisableUpdateCheck": False,
        "Limits": {
            "HTTPSHandshakeTimeout": "5s", "HTTPMaxConnsPerClient": 100,
            "RPCHandshakeTimeout": "5s", "RPCMaxConnsPerClient": 100,
        },
        "Reporting": {"License": {}},
        "KEKProviders": [],
    }  # fmt: skip


def dev_config(bind: str) -> dict:
    """config.go ``DevConfig()`` (its default mode: no Consul, no Vault) on ``bind``."""
    config = default_config()
    config.update(BindAddr=bind, LogLevel="DEBUG", DevMode=True, EnableDebug=True)
    config["DisableAnonymousSignature"] = True
    config["Client"].update(
        Enabled=True,
        NetworkInterface="lo",
        Options={
            "driver.raw_exec.enable": "true",
            "driver.docker.volumes": "true",
            "test.tighten_network_timeouts": "true",
        },
        GCInterval=10 * MINUTE,
        GCDiskUsageThreshold=99,
        GCInodeUsageThreshold=99,
        GCMaxAllocs=50,
        BindWildcardDefaultHostNetwork=True,
        NomadServiceDiscovery=True,
        ReservableCores="",
    )
    config["Server"].update(Enabled=True, BootstrapExpect=1)
    config["Telemetry"].update(
        PrometheusMetrics=True,
        PublishAllocationMetrics=True,
        PublishNodeMetrics=True,
        IncludeAllocMetadataInMetrics=True,
        AllowedMetadataKeysInMetrics=[],
    )
    return config
