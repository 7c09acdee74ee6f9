//! A deterministic, seeded generator of random *valid* PodSecurityPolicies and of pods that are
//! near-compliant with a given PSP, as `serde_json::Value`s, for differential tests. It depends
//! on nothing but `std` and `serde_json` (and never on polytrans).
//!
//! PSPs exercise every spec field and the seccomp/AppArmor annotations: several host-port ranges
//! (including kops' `max: 65536`), `*` entries (volumes, capabilities, sysctls, seccomp,
//! runtime classes), lowercase capability names, both API groups. Pods mix compliant and
//! offending settings: several containers, init and ephemeral containers, pod- vs
//! container-level `runAsUser`/`runAsNonRoot`/`runAsGroup`/`seccompProfile`/`seLinuxOptions`,
//! `docker/default` and `runtime/default` annotations, explicit JSON nulls, `hostNetwork` with
//! container ports, volumes without a source, projected service-account token volumes.

use serde_json::{Map, Value, json};

/// xorshift64* (Vigna): small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// A random subset (each item with probability `p`), order kept.
    pub fn subset<T: Clone>(&mut self, items: &[T], p: f64) -> Vec<T> {
        items.iter().filter(|_| self.chance(p)).cloned().collect()
    }
}

pub const CAPS: &[&str] = &[
    "NET_ADMIN",
    "SYS_TIME",
    "NET_BIND_SERVICE",
    "CHOWN",
    "KILL",
    "SETUID",
    "NET_RAW",
    "net_raw",
    "sys_admin",
    "ALL",
];
pub const VOLUME_TYPES: &[&str] = &[
    "configMap",
    "secret",
    "emptyDir",
    "hostPath",
    "projected",
    "persistentVolumeClaim",
    "flexVolume",
    "csi",
    "downwardAPI",
    "ephemeral",
    "nfs",
];
pub const HOST_PREFIXES: &[&str] = &["/var/log", "/data", "/tmp/", "/etc/ssl"];
pub const HOST_PATHS: &[&str] = &[
    "/var/log",
    "/var/log/pods",
    "/var/logs",
    "/data/x",
    "/tmp",
    "/tmp/a/",
    "/etc/ssl/certs",
    "/etc",
    "/",
];
pub const FLEX: &[&str] = &["example/lvm", "example/cifs"];
pub const CSI: &[&str] = &["csi.example.com", "secrets-store.csi.k8s.io"];
pub const SECCOMP: &[&str] = &[
    "runtime/default",
    "docker/default",
    "localhost/prof.json",
    "unconfined",
];
pub const APPARMOR: &[&str] = &["runtime/default", "localhost/k8s-apparmor", "unconfined"];
pub const SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ping_group_range",
    "kernel.msgmax",
    "kernel.sem",
    "net.core.somaxconn",
    "net.ipv6.conf.all.forwarding",
];
pub const RUNTIME_CLASSES: &[&str] = &["gvisor", "kata", "runc"];

fn ranges(rng: &mut Rng, lo: i64) -> Vec<(i64, i64)> {
    let n = 1 + rng.below(2);
    (0..n)
        .map(|_| {
            let a = lo + 100 * rng.below(20) as i64;
            (a, a + 50 * rng.below(4) as i64)
        })
        .collect()
}

fn ranges_json(r: &[(i64, i64)]) -> Value {
    Value::Array(r.iter().map(|(a, b)| json!({"min": a, "max": b})).collect())
}

fn strategy(rng: &mut Rng, rules: &[&str], lo: i64) -> Value {
    let rule = *rng.pick(rules);
    match rule {
        "MustRunAs" | "MayRunAs" => json!({"rule": rule, "ranges": ranges_json(&ranges(rng, lo))}),
        _ => json!({"rule": rule}),
    }
}

fn selinux_options(rng: &mut Rng) -> Value {
    let mut m = Map::new();
    if rng.chance(0.5) {
        m.insert("user".into(), json!("system_u"));
    }
    if rng.chance(0.3) {
        m.insert("role".into(), json!("object_r"));
    }
    m.insert(
        "type".into(),
        json!(*rng.pick(&["container_t", "spc_t", "svirt_lxc_net_t"])),
    );
    if rng.chance(0.6) {
        m.insert(
            "level".into(),
            json!(*rng.pick(&["s0:c1,c2", "s0:c2,c1", "s0"])),
        );
    }
    Value::Object(m)
}

/// A random PSP that the API server accepts.
pub fn psp(rng: &mut Rng, name: &str) -> Value {
    let mut spec = Map::new();
    for f in ["privileged", "hostNetwork", "hostPID", "hostIPC"] {
        if rng.chance(0.4) {
            spec.insert(f.into(), json!(rng.chance(0.4)));
        }
    }
    if rng.chance(0.5) {
        let n = 1 + rng.below(3);
        let hp: Vec<Value> = (0..n)
            .map(|_| {
                let a = *rng.pick(&[0i64, 80, 443, 8000, 30000]);
                let b = if rng.chance(0.15) {
                    65536
                } else {
                    a + *rng.pick(&[0i64, 10, 100, 1000])
                };
                json!({"min": a, "max": b})
            })
            .collect();
        spec.insert("hostPorts".into(), Value::Array(hp));
    }
    let volumes = if rng.chance(0.3) {
        vec!["*".to_string()]
    } else {
        rng.subset(VOLUME_TYPES, 0.45)
            .into_iter()
            .map(String::from)
            .collect()
    };
    spec.insert("volumes".into(), json!(volumes));
    if rng.chance(0.4) {
        let ahp: Vec<Value> = rng
            .subset(HOST_PREFIXES, 0.4)
            .into_iter()
            .map(|p| json!({"pathPrefix": p, "readOnly": rng.chance(0.5)}))
            .collect();
        spec.insert("allowedHostPaths".into(), Value::Array(ahp));
    }
    if rng.chance(0.3) {
        let f: Vec<Value> = rng
            .subset(FLEX, 0.5)
            .into_iter()
            .map(|d| json!({"driver": d}))
            .collect();
        spec.insert("allowedFlexVolumes".into(), Value::Array(f));
    }
    if rng.chance(0.3) {
        let c: Vec<Value> = rng
            .subset(CSI, 0.5)
            .into_iter()
            .map(|d| json!({"name": d}))
            .collect();
        spec.insert("allowedCSIDrivers".into(), Value::Array(c));
    }
    // Capabilities: allowed, then default adds and required drops disjoint from both.
    let allowed: Vec<&str> = if rng.chance(0.12) {
        vec!["*"]
    } else {
        rng.subset(&CAPS[..9], 0.25)
    };
    let default_add: Vec<&str> = rng
        .subset(&CAPS[..9], 0.1)
        .into_iter()
        .filter(|c| !allowed.contains(c))
        .collect();
    let required_drop: Vec<&str> = if allowed.contains(&"*") {
        vec![]
    } else {
        rng.subset(CAPS, 0.15)
            .into_iter()
            .filter(|c| !allowed.contains(c) && !default_add.contains(c))
            .collect()
    };
    for (k, v) in [
        ("allowedCapabilities", &allowed),
        ("defaultAddCapabilities", &default_add),
        ("requiredDropCapabilities", &required_drop),
    ] {
        if !v.is_empty() || rng.chance(0.1) {
            spec.insert(k.into(), json!(v));
        }
    }
    spec.insert(
        "runAsUser".into(),
        strategy(rng, &["RunAsAny", "MustRunAsNonRoot", "MustRunAs"], 0),
    );
    if rng.chance(0.5) {
        spec.insert(
            "runAsGroup".into(),
            strategy(rng, &["RunAsAny", "MustRunAs", "MayRunAs"], 0),
        );
    }
    for f in ["supplementalGroups", "fsGroup"] {
        spec.insert(
            f.into(),
            strategy(rng, &["RunAsAny", "MustRunAs", "MayRunAs"], 1),
        );
    }
    if rng.chance(0.3) {
        spec.insert(
            "seLinux".into(),
            json!({"rule": "MustRunAs", "seLinuxOptions": selinux_options(rng)}),
        );
    } else {
        spec.insert("seLinux".into(), json!({"rule": "RunAsAny"}));
    }
    if rng.chance(0.4) {
        spec.insert("readOnlyRootFilesystem".into(), json!(rng.chance(0.5)));
    }
    let ape = if rng.chance(0.6) {
        let b = rng.chance(0.5);
        spec.insert("allowPrivilegeEscalation".into(), json!(b));
        b
    } else {
        true
    };
    if rng.chance(0.4) {
        let d = ape && rng.chance(0.5);
        spec.insert("defaultAllowPrivilegeEscalation".into(), json!(d));
    }
    if rng.chance(0.3) {
        let pm = if rng.chance(0.5) {
            json!(["Default"])
        } else {
            json!(["Default", "Unmasked"])
        };
        spec.insert("allowedProcMountTypes".into(), pm);
    }
    // Sysctls: allowed and forbidden never overlap.
    match rng.below(4) {
        0 => {
            spec.insert("allowedUnsafeSysctls".into(), json!(["*"]));
        }
        1 => {
            spec.insert("forbiddenSysctls".into(), json!(["*"]));
        }
        _ => {
            let a = rng.subset(&["kernel.msg*", "net.core.somaxconn", "kernel.sem"], 0.4);
            let f = rng.subset(
                &[
                    "kernel.shm_rmid_forced",
                    "net.ipv4.ip_local_port_range",
                    "net.ipv6.*",
                ],
                0.4,
            );
            if !a.is_empty() {
                spec.insert("allowedUnsafeSysctls".into(), json!(a));
            }
            if !f.is_empty() {
                spec.insert("forbiddenSysctls".into(), json!(f));
            }
        }
    }
    if rng.chance(0.25) {
        let allowed: Vec<&str> = if rng.chance(0.3) {
            vec!["*"]
        } else {
            rng.subset(RUNTIME_CLASSES, 0.5)
        };
        let mut rc = json!({"allowedRuntimeClassNames": allowed});
        if rng.chance(0.5) {
            if allowed == ["*"] {
                rc["defaultRuntimeClassName"] = json!(*rng.pick(RUNTIME_CLASSES));
            } else if !allowed.is_empty() {
                rc["defaultRuntimeClassName"] = json!(*rng.pick(&allowed));
            }
        }
        spec.insert("runtimeClass".into(), rc);
    }
    let mut ann = Map::new();
    if rng.chance(0.5) {
        let mut a = rng.subset(SECCOMP, 0.4);
        if rng.chance(0.2) {
            a.push("*");
        }
        ann.insert(
            "seccomp.security.alpha.kubernetes.io/allowedProfileNames".into(),
            json!(a.join(",")),
        );
        if rng.chance(0.5) {
            let d = *rng.pick(&["runtime/default", "docker/default"]);
            ann.insert(
                "seccomp.security.alpha.kubernetes.io/defaultProfileName".into(),
                json!(d),
            );
        }
    }
    if rng.chance(0.3) {
        let a = rng.subset(APPARMOR, 0.5);
        ann.insert(
            "apparmor.security.beta.kubernetes.io/allowedProfileNames".into(),
            json!(a.join(",")),
        );
        if rng.chance(0.5) {
            ann.insert(
                "apparmor.security.beta.kubernetes.io/defaultProfileName".into(),
                json!("runtime/default"),
            );
        }
    }
    let api = if rng.chance(0.2) {
        "extensions/v1beta1"
    } else {
        "policy/v1beta1"
    };
    let mut meta = json!({ "name": name });
    if !ann.is_empty() {
        meta["annotations"] = Value::Object(ann);
    }
    json!({"apiVersion": api, "kind": "PodSecurityPolicy", "metadata": meta, "spec": spec})
}

fn spec_ranges(psp: &Value, key: &str) -> Vec<(i64, i64)> {
    psp["spec"][key]["ranges"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| (r["min"].as_i64().unwrap(), r["max"].as_i64().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

/// An id that usually falls in `ranges` (when given), sometimes not, sometimes 0.
fn id(rng: &mut Rng, ranges: &[(i64, i64)], off: f64) -> i64 {
    if !ranges.is_empty() && !rng.chance(off) {
        let (a, b) = *rng.pick(ranges);
        return a + (rng.below((b - a + 1) as usize)) as i64;
    }
    *rng.pick(&[0i64, 1000, 65534, 5])
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn container(rng: &mut Rng, psp: &Value, name: &str, host_network: bool, ephemeral: bool) -> Value {
    let s = &psp["spec"];
    let mut c = json!({"name": name, "image": "nginx"});
    let mut sc = Map::new();
    let off = 0.06;
    if rng.chance(0.15) {
        let want = s["privileged"].as_bool().unwrap_or(false) || rng.chance(off);
        sc.insert("privileged".into(), json!(want && rng.chance(0.7)));
    }
    let rule = s["runAsUser"]["rule"].as_str().unwrap_or("");
    if rng.chance(if rule == "MustRunAs" { 0.5 } else { 0.3 }) {
        sc.insert(
            "runAsUser".into(),
            json!(id(rng, &spec_ranges(psp, "runAsUser"), off)),
        );
    }
    if rng.chance(0.2) {
        sc.insert("runAsNonRoot".into(), json!(!rng.chance(off * 2.0)));
    }
    if rng.chance(0.25) {
        sc.insert(
            "runAsGroup".into(),
            json!(id(rng, &spec_ranges(psp, "runAsGroup"), off)),
        );
    }
    if rng.chance(0.5) {
        let allowed = strs(&s["allowedCapabilities"]);
        let defaults = strs(&s["defaultAddCapabilities"]);
        let drops = strs(&s["requiredDropCapabilities"]);
        let mut caps = json!({});
        let mut add: Vec<String> = Vec::new();
        if rng.chance(0.4) {
            let pool: Vec<String> = allowed
                .iter()
                .chain(defaults.iter())
                .filter(|c| *c != "*")
                .cloned()
                .collect();
            if !pool.is_empty() {
                add.push(rng.pick(&pool).clone());
            }
        }
        if rng.chance(off) {
            add.push(rng.pick(CAPS).to_string());
        }
        if !add.is_empty() {
            caps["add"] = json!(add);
        }
        if rng.chance(0.6) {
            let mut drop: Vec<String> =
                drops.iter().filter(|_| !rng.chance(off)).cloned().collect();
            if rng.chance(0.3) {
                drop.push(rng.pick(&["ALL", "all", "NET_RAW"]).to_string());
            }
            if rng.chance(0.2) && !defaults.is_empty() {
                drop.push(rng.pick(&defaults).clone());
            }
            caps["drop"] = json!(drop);
        }
        sc.insert("capabilities".into(), caps);
    }
    if rng.chance(0.3) {
        sc.insert("readOnlyRootFilesystem".into(), json!(!rng.chance(0.2)));
    }
    if rng.chance(0.35) {
        let may = s["allowPrivilegeEscalation"].as_bool().unwrap_or(true);
        sc.insert(
            "allowPrivilegeEscalation".into(),
            json!((may || rng.chance(off)) && rng.chance(0.5)),
        );
    }
    if rng.chance(0.05) {
        sc.insert(
            "procMount".into(),
            json!(*rng.pick(&["Default", "Unmasked"])),
        );
    }
    if rng.chance(0.12) {
        let t = *rng.pick(&[
            "RuntimeDefault",
            "RuntimeDefault",
            "Unconfined",
            "Localhost",
        ]);
        let mut p = json!({ "type": t });
        if t == "Localhost" {
            p["localhostProfile"] = json!("prof.json");
        }
        sc.insert("seccompProfile".into(), p);
    }
    if rng.chance(0.08) {
        let o = s["seLinux"]["seLinuxOptions"].clone();
        let o = if o.is_object() && !rng.chance(0.3) {
            o
        } else {
            selinux_options(rng)
        };
        sc.insert("seLinuxOptions".into(), o);
    }
    // Explicit nulls read as unset.
    if rng.chance(0.1) {
        let f = *rng.pick(&[
            "privileged",
            "runAsUser",
            "capabilities",
            "allowPrivilegeEscalation",
        ]);
        sc.insert(f.into(), Value::Null);
    }
    if !sc.is_empty() || rng.chance(0.1) {
        c["securityContext"] = Value::Object(sc);
    } else if rng.chance(0.05) {
        c["securityContext"] = Value::Null;
    }
    if !ephemeral && rng.chance(0.3) {
        let hp_ranges: Vec<(i64, i64)> = s["hostPorts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| (r["min"].as_i64().unwrap(), r["max"].as_i64().unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        let cp = *rng.pick(&[80i64, 443, 8080, 9090]);
        let mut port = json!({ "containerPort": cp });
        if !host_network && rng.chance(0.4) {
            let hp = if !hp_ranges.is_empty() && !rng.chance(0.2) {
                let (a, b) = *rng.pick(&hp_ranges);
                (a + rng.below((b - a + 1).min(1000) as usize) as i64).clamp(1, 65535)
            } else {
                *rng.pick(&[80i64, 8080, 30001])
            };
            port["hostPort"] = json!(hp);
        }
        c["ports"] = json!([port]);
    }
    c
}

/// A pod that is near-compliant with `psp` (most settings within it, a few not).
pub fn pod(rng: &mut Rng, psp: &Value) -> Value {
    let s = &psp["spec"];
    let off = 0.06;
    let mut spec = Map::new();
    let mut host_network = false;
    for f in ["hostNetwork", "hostPID", "hostIPC"] {
        if rng.chance(0.1) {
            let v = (s[f].as_bool().unwrap_or(false) || rng.chance(off * 3.0)) && rng.chance(0.7);
            if f == "hostNetwork" {
                host_network = v;
            }
            spec.insert(f.into(), json!(v));
        }
    }
    let mut psc = Map::new();
    if rng.chance(0.25) {
        psc.insert(
            "runAsUser".into(),
            json!(id(rng, &spec_ranges(psp, "runAsUser"), off)),
        );
    }
    if rng.chance(0.2) {
        psc.insert("runAsNonRoot".into(), json!(!rng.chance(off)));
    }
    if rng.chance(0.15) {
        psc.insert(
            "runAsGroup".into(),
            json!(id(rng, &spec_ranges(psp, "runAsGroup"), off)),
        );
    }
    if rng.chance(0.2) {
        psc.insert(
            "fsGroup".into(),
            json!(id(rng, &spec_ranges(psp, "fsGroup"), off)),
        );
    }
    if rng.chance(0.15) {
        let r = spec_ranges(psp, "supplementalGroups");
        psc.insert(
            "supplementalGroups".into(),
            json!([id(rng, &r, off), id(rng, &r, off / 2.0)]),
        );
    }
    if rng.chance(0.1) {
        let o = s["seLinux"]["seLinuxOptions"].clone();
        let o = if o.is_object() && !rng.chance(0.3) {
            o
        } else {
            selinux_options(rng)
        };
        psc.insert("seLinuxOptions".into(), o);
    }
    if rng.chance(0.15) {
        let t = *rng.pick(&["RuntimeDefault", "RuntimeDefault", "Unconfined"]);
        psc.insert("seccompProfile".into(), json!({ "type": t }));
    }
    if rng.chance(0.12) {
        let n = *rng.pick(SYSCTLS);
        psc.insert("sysctls".into(), json!([{"name": n, "value": "1"}]));
    }
    if rng.chance(0.05) {
        psc.insert("runAsUser".into(), Value::Null);
    }
    if !psc.is_empty() {
        spec.insert("securityContext".into(), Value::Object(psc));
    }
    let n = 1 + rng.below(3);
    let mut containers = Vec::new();
    for i in 0..n {
        containers.push(container(rng, psp, &format!("c{i}"), host_network, false));
    }
    spec.insert("containers".into(), Value::Array(containers));
    if rng.chance(0.3) {
        spec.insert(
            "initContainers".into(),
            json!([container(rng, psp, "init", host_network, false)]),
        );
    }
    if rng.chance(0.1) {
        spec.insert(
            "ephemeralContainers".into(),
            json!([container(rng, psp, "debug", host_network, true)]),
        );
    }
    // Volumes: mostly of allowed types.
    let allowed_types = strs(&s["volumes"]);
    let mut volumes = Vec::new();
    for i in 0..rng.below(3) {
        let any = allowed_types.iter().any(|t| t == "*") || allowed_types.is_empty();
        let t = if any || rng.chance(off * 2.0) {
            rng.pick(VOLUME_TYPES).to_string()
        } else {
            rng.pick(&allowed_types).clone()
        };
        let name = format!("v{i}");
        let src = match t.as_str() {
            "hostPath" => json!({"path": *rng.pick(HOST_PATHS)}),
            "flexVolume" => json!({"driver": *rng.pick(FLEX)}),
            "csi" => json!({"driver": *rng.pick(CSI)}),
            "configMap" => json!({"name": "cm"}),
            "secret" => json!({"secretName": "s"}),
            "persistentVolumeClaim" => json!({"claimName": "pvc"}),
            "nfs" => json!({"server": "nfs", "path": "/x"}),
            "projected" => json!({"sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}
            ]}),
            "downwardAPI" => json!({"items": []}),
            "ephemeral" => json!({"volumeClaimTemplate": {"spec": {}}}),
            _ => json!({}),
        };
        let mut v = json!({ "name": name });
        if !(t == "emptyDir" && rng.chance(0.5)) {
            // A volume without a source is an emptyDir after defaulting.
            v[t.as_str()] = src;
        }
        volumes.push(v);
        if rng.chance(0.7) {
            let ci = rng.below(n);
            let ro = rng.chance(0.5);
            let cs = spec.get_mut("containers").unwrap();
            let c = &mut cs[ci];
            let mounts = c
                .as_object_mut()
                .unwrap()
                .entry("volumeMounts")
                .or_insert(json!([]));
            mounts
                .as_array_mut()
                .unwrap()
                .push(json!({"name": name, "mountPath": format!("/m{i}"), "readOnly": ro}));
        }
    }
    if !volumes.is_empty() {
        spec.insert("volumes".into(), Value::Array(volumes));
    }
    if rng.chance(0.15) {
        let rc = *rng.pick(RUNTIME_CLASSES);
        spec.insert("runtimeClassName".into(), json!(rc));
    }
    let mut ann = Map::new();
    let pann = &psp["metadata"]["annotations"];
    // Comply with an allowed-profile list that has no default, most of the time.
    let seccomp_allowed: Vec<String> =
        pann["seccomp.security.alpha.kubernetes.io/allowedProfileNames"]
            .as_str()
            .map(|s| {
                s.split(',')
                    .filter(|p| *p != "*")
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
    if rng.chance(0.2) {
        ann.insert(
            "seccomp.security.alpha.kubernetes.io/pod".into(),
            json!(*rng.pick(SECCOMP)),
        );
    } else if !seccomp_allowed.is_empty()
        && pann["seccomp.security.alpha.kubernetes.io/defaultProfileName"].is_null()
        && rng.chance(0.8)
    {
        ann.insert(
            "seccomp.security.alpha.kubernetes.io/pod".into(),
            json!(rng.pick(&seccomp_allowed)),
        );
    }
    let apparmor_allowed: Vec<String> =
        pann["apparmor.security.beta.kubernetes.io/allowedProfileNames"]
            .as_str()
            .map(|s| {
                s.split(',')
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
    if !apparmor_allowed.is_empty()
        && pann["apparmor.security.beta.kubernetes.io/defaultProfileName"].is_null()
        && rng.chance(0.8)
    {
        for kind in ["containers", "initContainers", "ephemeralContainers"] {
            for c in spec
                .get(kind)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = c["name"].as_str().unwrap();
                ann.insert(
                    format!("container.apparmor.security.beta.kubernetes.io/{name}"),
                    json!(rng.pick(&apparmor_allowed)),
                );
            }
        }
    }
    if rng.chance(0.1) {
        ann.insert(
            "container.seccomp.security.alpha.kubernetes.io/c0".into(),
            json!(*rng.pick(SECCOMP)),
        );
    }
    if rng.chance(0.15) {
        ann.insert(
            "container.apparmor.security.beta.kubernetes.io/c0".into(),
            json!(*rng.pick(APPARMOR)),
        );
    }
    let mut meta = json!({"name": "gen", "namespace": "default"});
    if !ann.is_empty() {
        meta["annotations"] = Value::Object(ann);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
}
