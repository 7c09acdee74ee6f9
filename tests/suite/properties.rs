//! Property tests: for random valid PSPs, lowering succeeds, the IR round-trips through its own
//! YAML, every implemented backend renders, and YAML outputs parse; hostile names never break the
//! structure of the output. Output is deterministic.

use polytrans::cli::Target;
use proptest::prelude::*;

fn strategy_rule(rules: &'static [&'static str]) -> impl Strategy<Value = String> {
    (prop::sample::select(rules), 0i64..70000, 0i64..70000).prop_map(|(rule, a, b)| {
        let (min, max) = (a.min(b), a.max(b));
        if rule == "RunAsAny" {
            format!("{{rule: {rule}}}")
        } else {
            format!("{{rule: {rule}, ranges: [{{min: {min}, max: {max}}}]}}")
        }
    })
}

prop_compose! {
    fn psp_yaml()(
        name in "[a-z][a-z0-9-]{0,20}[a-z0-9]",
        privileged in any::<bool>(),
        host in prop::array::uniform3(any::<bool>()),
        ports in prop::option::of((0i64..65536, 0i64..65536)),
        volumes in prop::sample::subsequence(vec!["configMap", "secret", "hostPath", "emptyDir", "csi", "*"], 0..4),
        caps in prop::sample::subsequence(vec!["NET_ADMIN", "SYS_TIME", "CHOWN", "*"], 0..3),
        drop in prop::sample::subsequence(vec!["ALL", "NET_RAW"], 0..2),
        run_as_user in strategy_rule(&["MustRunAs", "MustRunAsNonRoot", "RunAsAny"]),
        fs_group in strategy_rule(&["MustRunAs", "MayRunAs", "RunAsAny"]),
        supplemental in strategy_rule(&["MustRunAs", "MayRunAs", "RunAsAny"]),
        escalation in prop::option::of(any::<bool>()),
        read_only in any::<bool>(),
        seccomp in prop::option::of(prop::sample::select(vec!["runtime/default", "*", "runtime/default,localhost/*", "unconfined"])),
        proc_mount in any::<bool>(),
        sysctls in prop::sample::subsequence(vec!["kernel.msg*", "net.core.somaxconn"], 0..2),
        host_path in prop::option::of(("/[a-z]{1,8}", any::<bool>())),
    ) -> String {
        let mut s = format!("apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: {name}\n");
        if let Some(p) = seccomp {
            s.push_str(&format!("  annotations:\n    seccomp.security.alpha.kubernetes.io/allowedProfileNames: \"{p}\"\n"));
        }
        s.push_str("spec:\n  seLinux: {rule: RunAsAny}\n");
        s.push_str(&format!("  privileged: {privileged}\n  hostNetwork: {}\n  hostPID: {}\n  hostIPC: {}\n", host[0], host[1], host[2]));
        if let Some((a, b)) = ports {
            s.push_str(&format!("  hostPorts: [{{min: {}, max: {}}}]\n", a.min(b), a.max(b)));
        }
        s.push_str(&format!("  volumes: {:?}\n", volumes));
        let caps: Vec<&str> = caps.into_iter().filter(|c| !drop.contains(c)).collect();
        // The API server refuses required drops next to `*` in allowedCapabilities.
        let drop = if caps.contains(&"*") { vec![] } else { drop };
        s.push_str(&format!("  allowedCapabilities: {caps:?}\n  requiredDropCapabilities: {drop:?}\n"));
        s.push_str(&format!("  runAsUser: {run_as_user}\n  fsGroup: {fs_group}\n  supplementalGroups: {supplemental}\n"));
        match escalation {
            Some(false) => s.push_str("  allowPrivilegeEscalation: false\n"),
            Some(true) => s.push_str("  allowPrivilegeEscalation: true\n  defaultAllowPrivilegeEscalation: true\n"),
            None => {}
        }
        s.push_str(&format!("  readOnlyRootFilesystem: {read_only}\n"));
        if proc_mount {
            s.push_str("  allowedProcMountTypes: [Default, Unmasked]\n");
        }
        s.push_str(&format!("  allowedUnsafeSysctls: {sysctls:?}\n"));
        if let Some((p, ro)) = host_path {
            s.push_str(&format!("  allowedHostPaths: [{{pathPrefix: \"{p}\", readOnly: {ro}}}]\n"));
        }
        s
    }
}

fn lower(yaml: &str) -> Vec<polytrans::ir::Policy> {
    let src = std::sync::Arc::new(polytrans::load::Source {
        name: "prop.yaml".into(),
    });
    let mut objects = Vec::new();
    let mut diags = polytrans::diag::Diagnostics::default();
    polytrans::load::parse_stream(
        yaml,
        &src,
        &Default::default(),
        &mut |o| objects.push(o),
        &mut diags,
    );
    assert!(!diags.has_errors(), "{diags}\n{yaml}");
    polytrans::front::psp::lower_all(&objects)
        .unwrap_or_else(|d| panic!("{d}\n{yaml}"))
        .0
}

fn psp_args(target: Target) -> polytrans::cli::PspArgs {
    let cli = <polytrans::cli::Cli as clap::Parser>::try_parse_from([
        "polytrans",
        "psp",
        "-",
        "--to",
        target.name,
    ])
    .unwrap();
    match cli.command {
        polytrans::cli::Command::Psp(a) => a,
        _ => unreachable!(),
    }
}

const YAML_TARGETS: &[&str] = &[
    "ir",
    "falco",
    "kyverno",
    "kyverno-cel",
    "gatekeeper",
    "vap",
    "kubewarden",
    "pss-labels",
];

fn all_targets() -> Vec<Target> {
    polytrans::backend::TARGETS.iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn valid_psps_render_everywhere(yaml in psp_yaml()) {
        let policies = lower(&yaml);
        prop_assert_eq!(policies.len(), 1);
        // The IR round-trips through its own YAML.
        let doc = polytrans::ir::IrDocument::new(policies.clone());
        let text = polytrans::render::to_yaml(&doc);
        let back: polytrans::ir::IrDocument =
            serde_json::from_value(polytrans::load::yaml_documents(&text).unwrap().remove(0)).unwrap();
        prop_assert_eq!(&back, &doc);
        let common = polytrans::backend::Common::default();
        let scope = polytrans::scope::Scope::unscoped(&policies);
        for target in all_targets() {
            let args = psp_args(target).backend_options();
            let emit = || polytrans::pipeline::emit(target, &policies, &scope, &common, &args);
            match emit() {
                Ok(out) => {
                    // Deterministic.
                    let again = emit().unwrap();
                    prop_assert_eq!(&out.stdout, &again.stdout);
                    if YAML_TARGETS.contains(&target.name) {
                        prop_assert!(
                            polytrans::load::yaml_documents(&out.stdout).is_ok(),
                            "{} output does not parse:\n{}", target.name, out.stdout
                        );
                    }
                }
                Err(polytrans::Error::Unimplemented(_)) => {}
                Err(e) => prop_assert!(false, "{} failed: {e}\n{yaml}", target.name),
            }
        }
    }

    #[test]
    fn loader_never_panics(text in ".{0,400}") {
        let src = std::sync::Arc::new(polytrans::load::Source { name: "fuzz".into() });
        let mut diags = polytrans::diag::Diagnostics::default();
        polytrans::load::parse_stream(&text, &src, &Default::default(), &mut |o| {
            let mut d = polytrans::diag::Diagnostics::default();
            let _ = polytrans::front::psp::lower(&o, &mut d);
            let _ = polytrans::pod::pod_of(&o);
        }, &mut diags);
    }
}
