//! Deterministic corpus generator for benchmarks: realistic mixed pods and workloads.
//!
//! `cargo run --release --example gen-pods -- --count 100000 --seed 1 [--format yaml|json|json-array|ndjson]`
//!
//! Objects: Pods and Deployments, StatefulSets, DaemonSets, Jobs and CronJobs, with 1–3
//! containers, sometimes init containers, volumes of several types and security contexts ranging
//! from restricted-compliant to privileged. YAML is multi-document; JSON is a `kind: List` (`json-array`: a
//! top-level array; `ndjson`: one object per line), one object per line.

use std::io::Write;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn container(rng: &mut Rng, name: &str) -> serde_json::Value {
    let images = [
        "nginx:1.27",
        "redis:7",
        "registry.example.com/app:2.3.1",
        "busybox:1.36",
        "postgres:16",
    ];
    let mut c = serde_json::json!({
        "name": name,
        "image": images[rng.below(images.len() as u64) as usize],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
    });
    if rng.chance(50) {
        c["ports"] = serde_json::json!([{"containerPort": 8080 + rng.below(10)}]);
        if rng.chance(5) {
            c["ports"][0]["hostPort"] = serde_json::json!(8080);
        }
    }
    let profile = rng.below(10);
    c["securityContext"] = match profile {
        0..=3 => serde_json::json!({
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": true,
            "readOnlyRootFilesystem": true,
            "seccompProfile": {"type": "RuntimeDefault"}
        }),
        4..=6 => serde_json::json!({"runAsUser": 1000 + rng.below(1000)}),
        7 => serde_json::json!({"capabilities": {"add": ["NET_ADMIN"]}}),
        8 => serde_json::json!({"privileged": true}),
        _ => serde_json::json!({}),
    };
    c["volumeMounts"] = serde_json::json!([{"name": "data", "mountPath": "/data"}]);
    c
}

fn pod_spec(rng: &mut Rng) -> serde_json::Value {
    let n = 1 + rng.below(3);
    let containers: Vec<_> = (0..n).map(|i| container(rng, &format!("c{i}"))).collect();
    let volume = match rng.below(6) {
        0 => serde_json::json!({"name": "data", "hostPath": {"path": "/var/data"}}),
        1 => serde_json::json!({"name": "data", "persistentVolumeClaim": {"claimName": "data"}}),
        2 => serde_json::json!({"name": "data", "configMap": {"name": "cfg"}}),
        3 => serde_json::json!({"name": "data", "secret": {"secretName": "s"}}),
        _ => serde_json::json!({"name": "data", "emptyDir": {}}),
    };
    let mut spec = serde_json::json!({
        "containers": containers,
        "volumes": [volume, {"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}],
    });
    if rng.chance(30) {
        spec["initContainers"] = serde_json::json!([container(rng, "init")]);
    }
    if rng.chance(40) {
        spec["securityContext"] =
            serde_json::json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    }
    if rng.chance(3) {
        spec["hostNetwork"] = serde_json::json!(true);
    }
    spec
}

fn object(rng: &mut Rng, i: u64) -> serde_json::Value {
    let ns = format!("team-{}", rng.below(50));
    let name = format!("app-{i}");
    let template =
        serde_json::json!({"metadata": {"labels": {"app": name}}, "spec": pod_spec(rng)});
    match rng.below(10) {
        0..=4 => {
            serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": template["spec"]})
        }
        5 | 6 => {
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": template}})
        }
        7 => {
            serde_json::json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": ns}, "spec": {"serviceName": name, "selector": {"matchLabels": {"app": name}}, "template": template}})
        }
        8 => {
            serde_json::json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": ns}, "spec": {"selector": {"matchLabels": {"app": name}}, "template": template}})
        }
        _ => {
            serde_json::json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": ns}, "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}})
        }
    }
}

fn main() {
    let mut count = 1000u64;
    let mut seed = 1u64;
    let mut format = "yaml".to_string();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--count" => count = v.parse().expect("--count N"),
            "--seed" => seed = v.parse().expect("--seed N"),
            "--format" => format = v,
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if format == "json" || format == "json-array" {
        if format == "json" {
            writeln!(
                out,
                "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": ["
            )
            .unwrap();
        } else {
            writeln!(out, "[").unwrap();
        }
        for i in 0..count {
            let sep = if i + 1 < count { "," } else { "" };
            writeln!(out, "{}{sep}", object(&mut rng, i)).unwrap();
        }
        writeln!(out, "{}", if format == "json" { "]}" } else { "]" }).unwrap();
    } else if format == "ndjson" {
        for i in 0..count {
            writeln!(out, "{}", object(&mut rng, i)).unwrap();
        }
    } else {
        for i in 0..count {
            writeln!(out, "---").unwrap();
            write!(out, "{}", polytrans::render::to_yaml(&object(&mut rng, i))).unwrap();
        }
    }
}
