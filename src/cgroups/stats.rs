//! The `data` object of runc's `events --stats` (runc types/events.go),
//! field names and omissions included.

use std::collections::BTreeMap;

use serde::Serialize;

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// The `data` of a runc stats event.
#[derive(Serialize, Default, Debug)]
pub struct Stats {
    pub(super) cpu: Cpu,
    pub(super) cpuset: CpuSet,
    pub(super) memory: Memory,
    pub(super) pids: Pids,
    pub(super) blkio: Blkio,
    pub(super) hugetlb: BTreeMap<String, Hugetlb>,
    pub(super) intel_rdt: IntelRdt,
    pub(super) network_interfaces: Option<Vec<()>>,
}

#[derive(Serialize, Default, Debug, PartialEq)]
pub(super) struct IntelRdt {}

#[derive(Serialize, Default, Debug, PartialEq)]
pub(super) struct Cpu {
    // Go's omitempty never omits a struct: these are always there.
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Serialize, Default, Debug, PartialEq)]
pub(super) struct CpuUsage {
    /// Nanoseconds, like every time below.
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Serialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(super) struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Serialize, Default, Debug, PartialEq)]
pub(super) struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Serialize, Default, Debug, PartialEq, Clone, Copy)]
pub(super) struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Serialize, Default, Debug, PartialEq)]
pub(super) struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Serialize, Default, Debug, PartialEq)]
pub(super) struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0: no limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Serialize, Default, Debug, PartialEq, Clone)]
pub(super) struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Serialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(super) struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Serialize, Default, Debug, PartialEq)]
pub(super) struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omits_like_runc() {
        let v = serde_json::to_value(Stats::default()).unwrap();
        // Go's omitempty drops zero numbers, strings, slices and maps,
        // never structs (runc prints "throttling":{}).
        let entry = serde_json::json!({"limit": 0, "failcnt": 0});
        assert_eq!(
            v["cpu"],
            serde_json::json!({"usage": {"kernel": 0, "user": 0}, "throttling": {}})
        );
        assert_eq!(
            v["memory"],
            serde_json::json!({"usage": entry, "swap": entry, "kernel": entry, "kernelTCP": entry})
        );
        assert_eq!(v["pids"], serde_json::json!({}));
        assert_eq!(v["blkio"], serde_json::json!({}));
        assert_eq!(v["hugetlb"], serde_json::json!({}));
        assert_eq!(v["intel_rdt"], serde_json::json!({}));
        assert!(v["network_interfaces"].is_null());
        assert_eq!(v["cpuset"]["cpu_exclusive"], 0);
    }
}
