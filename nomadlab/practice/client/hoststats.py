"""The host's resource usage, as a Nomad client reports it (client/hoststats): memory, each
CPU, the disk holding the data dir, and uptime, for ``GET /v1/client/stats``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from nomadlab.practice.structs import now_ns


def host_stats(data_dir: Path) -> dict:
    """HostStats now. CPU percentages are since the previous call (zero on the first)."""
    memory = psutil.virtual_memory()
    cpus = [
        {
            "CPU": f"cpu{number}",
            "User": times.user,
            "System": times.system,
            "Idle": times.idle,
            "Total": 100.0 - times.idle,
        }
        for number, times in enumerate(psutil.cpu_times_percent(interval=None, percpu=True))
    ]
    return {
        "Memory": {
            "Total": memory.total,
            "Available": memory.available,
            "Used": memory.used,
            "Free": memory.free,
        },
        "CPU": cpus,
        "DiskStats": [disk_stats(p.device, p.mountpoint) for p in _real_partitions()],
        "AllocDirStats": disk_stats("", str(data_dir)),
        "DeviceStats": [],
        "Uptime": int(time.time() - psutil.boot_time()),
        "Timestamp": now_ns(),
        "CPUTicksConsumed": sum(c["Total"] for c in cpus) / 100 * _mhz(),
    }


def disk_stats(device: str, mountpoint: str) -> dict:
    """DiskStats of the file system at ``mountpoint``."""
    usage = psutil.disk_usage(mountpoint)
    return {
        "Device": device,
        "Mountpoint": mountpoint,
        "Size": usage.total,
        "Used": usage.used,
        "Available": usage.free,
        "UsedPercent": usage.percent,
        "InodesUsedPercent": _inodes_used_percent(mountpoint),
    }


def _real_partitions() -> list:
    partitions = []
    for partition in psutil.disk_partitions(all=False):
        try:
            psutil.disk_usage(partition.mountpoint)
        except OSError:  # a mount this user may not stat: Nomad skips it too
            continue
        partitions.append(partition)
    return partitions


def _inodes_used_percent(mountpoint: str) -> float:
    stat = os.statvfs(mountpoint)
    if not stat.f_files:
        return 0.0
    return (stat.f_files - stat.f_ffree) / stat.f_files * 100


def _mhz() -> float:
    frequency = psutil.cpu_freq()
    return float(frequency.current) if frequency and frequency.current else 2000.0
