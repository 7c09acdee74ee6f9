//! Deterministic PSP corpus with RBAC, for translation benchmarks.
//!
//! `cargo run --release --example gen-psps -- --count 10000 --seed 1`

use std::io::Write;

fn main() {
    let mut count = 100u64;
    let mut seed = 1u64;
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        match pair[0].as_str() {
            "--count" => count = pair[1].parse().expect("--count N"),
            "--seed" => seed = pair[1].parse().expect("--seed N"),
            other => panic!("unknown argument {other}"),
        }
    }
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut rnd = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for i in 0..count {
        let name = format!("psp-{i}");
        let strict = rnd(2) == 0;
        let volumes = if strict {
            "[configMap, emptyDir, projected, secret, downwardAPI, persistentVolumeClaim]"
        } else {
            "['*']"
        };
        let user = match rnd(3) {
            0 => "{rule: MustRunAsNonRoot}".to_string(),
            1 => format!(
                "{{rule: MustRunAs, ranges: [{{min: {}, max: {}}}]}}",
                1000 + i,
                2000 + i
            ),
            _ => "{rule: RunAsAny}".to_string(),
        };
        writeln!(
            out,
            "---
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: {name}
  annotations:
    seccomp.security.alpha.kubernetes.io/allowedProfileNames: {seccomp}
spec:
  privileged: {privileged}
  allowPrivilegeEscalation: {ape}
  requiredDropCapabilities: {drop}
  allowedCapabilities: {caps}
  volumes: {volumes}
  hostNetwork: {host}
  hostPorts: [{{min: {port}, max: {port_max}}}]
  runAsUser: {user}
  seLinux: {{rule: RunAsAny}}
  supplementalGroups: {{rule: MustRunAs, ranges: [{{min: 1, max: 65535}}]}}
  fsGroup: {{rule: MayRunAs, ranges: [{{min: 1, max: 65535}}]}}
  readOnlyRootFilesystem: {ro}
  allowedHostPaths: [{{pathPrefix: /var/log/{name}, readOnly: true}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: use-{name}}}
rules:
- apiGroups: [policy]
  resources: [podsecuritypolicies]
  verbs: [use]
  resourceNames: [{name}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: use-{name}, namespace: ns-{ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: use-{name}}}
subjects:
- {{kind: Group, name: 'system:serviceaccounts:ns-{ns}', apiGroup: rbac.authorization.k8s.io}}",
            seccomp = if strict { "runtime/default" } else { "'*'" },
            privileged = !strict && rnd(4) == 0,
            ape = !strict,
            drop = if strict { "[ALL]" } else { "[]" },
            caps = if strict {
                "[]"
            } else {
                "[NET_ADMIN, SYS_TIME]"
            },
            host = !strict && rnd(3) == 0,
            port = 8000 + rnd(100),
            port_max = 9000 + rnd(100),
            ro = strict,
            ns = i % 500,
        )
        .unwrap();
    }
}
