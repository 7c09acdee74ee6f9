//! The differential (issue 17 §1): every admission backend, run by its test-only engine, judged
//! against the independent PSP admission model (`engines/psp_admission.rs`) on generated
//! (PSP, pod) pairs (`engines/psp_gen.rs`).
//!
//! For each generated PSP polytrans lowers it (a PSP polytrans refuses is counted apart) and
//! every backend is emitted through the registry, as `polytrans psp --to <target>` would; each
//! generated pod is judged after the API server's defaulting (`api_server_defaults`: what
//! webhooks and VAPs see):
//! - `check --psp`: `polytrans::eval::admits` (defaulting, then validation);
//! - `gatekeeper`: constraints and mutators (mutators first), regorus on the library's Rego;
//! - `kyverno`: the ClusterPolicy's mutate then validate rules (failing rules reject, whatever
//!   their `failureAction`);
//! - `vap`, `kyverno-cel`: the mutating policies (PSP's defaulting, by the test-only applier
//!   `engines/map.rs`), then the CEL validations on the mutated pod; when the validations admit
//!   the pod as the model mutated it but not as the mutating policies did, the group is named
//!   `needs mutation (defaulting)` (a defaulting the mutating policy misses);
//! - `falco` (modern flavour): the k8s audit event of the pod's create; "rejects" means a rule
//!   fired. Falco detects and cannot default, so it is judged against the model's verdict on the
//!   pod as written (`validate_as_written`: PSP's validation without its mutation).
//!
//! A generated pod the API server's own validation refuses (an invalid seccomp or AppArmor
//! annotation, a seccomp annotation that contradicts its field: `model::validate_pod_object`)
//! never reaches validating admission; it is counted apart and not judged, and the pairs
//! counted towards `PAIRS` are the valid ones.
//!
//! Every disagreement is grouped by the PSP field responsible, attributed by the side that
//! rejects (the model's message, the backend's failing rule), and one example per group is
//! minimised by deleting PSP and pod parts while the pair stays in the group. A group the engine
//! cannot express at all is listed in [`CANNOT_EXPRESS`]; every other group is "unexplained" and
//! must be named in [`KNOWN`] (a ratchet: the count per backend may only fall, and a known group
//! that no longer occurs fails the test until it is removed from the list).
//!
//! `DIFF_N=<pairs>` changes the number of pairs (the ratchet counts are asserted only at the
//! default); `DIFF_SHOW=<text>` prints every disagreement whose key contains the text.

use crate::common;
use crate::engines::{
    cel as cel_engine, falco as falco_engine, gatekeeper as gk_engine, kubewarden as kw_engine,
    kyverno as ky, psp_admission as model, psp_gen,
};
use crate::psp_model::{delete, model_field, normalise, places, to_objects};

use polytrans::ir::Policy;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Instant;

/// Pairs judged by the cheap engines.
const PAIRS: usize = 50_000;
/// Pods generated per PSP (lowering and emitting cost per PSP).
const PODS_PER_PSP: usize = 20;
/// Threads judging the pairs.
const WORKERS: usize = 2;
/// The generator's seed.
const SEED: u64 = 0x0d1f_f17e;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Backend {
    Check,
    Gatekeeper,
    Kyverno,
    Vap,
    KyvernoCel,
    Kubewarden,
    Falco,
}

impl Backend {
    const ALL: [Backend; 7] = [
        Backend::Check,
        Backend::Gatekeeper,
        Backend::Kyverno,
        Backend::Vap,
        Backend::KyvernoCel,
        Backend::Kubewarden,
        Backend::Falco,
    ];

    fn name(self) -> &'static str {
        match self {
            Backend::Check => "check --psp",
            Backend::Gatekeeper => "gatekeeper",
            Backend::Kyverno => "kyverno",
            Backend::Vap => "vap",
            Backend::KyvernoCel => "kyverno-cel",
            Backend::Kubewarden => "kubewarden",
            Backend::Falco => "falco",
        }
    }

    /// The `--to` target.
    fn target(self) -> Option<&'static str> {
        match self {
            Backend::Check => None,
            Backend::Falco => Some("falco"),
            b => Some(b.name()),
        }
    }

    /// The backend judges the pods of every `every()`-th PSP: the test-only Rego and Kyverno
    /// engines cost 3 to 6 ms a pod in the debug profile, too slow for every pair within the
    /// module's time budget (4 minutes on the 2-core machine).
    fn every(self) -> usize {
        match self {
            Backend::Gatekeeper => 8,
            Backend::Kyverno => 3,
            _ => 1,
        }
    }

    /// Whether `DIFF_ONLY=<name>[,<name>…]` (when set) names the backend.
    fn selected(self) -> bool {
        std::env::var("DIFF_ONLY").map_or(true, |only| {
            only.split(',').any(|n| n.trim() == self.name())
        })
    }

    /// Whether the reference is the model's verdict on the pod as written (no mutation).
    fn detects_only(self) -> bool {
        self == Backend::Falco
    }
}

/// Groups the engine cannot express at all: (backend, group key, why).
const CANNOT_EXPRESS: &[(&str, &str, &str)] = &[
    (
        "falco",
        "model rejects as written, does not fire: @seccomp (annotation keyed by container name)",
        "a container's seccomp annotation is keyed by its name; a rule names its JSON pointers in advance and cannot build one from a field's value",
    ),
    (
        "falco",
        "model rejects as written, does not fire: @apparmor (annotation keyed by container name)",
        "a container's AppArmor annotation is keyed by its name; a rule names its JSON pointers in advance and cannot build one from a field's value",
    ),
    (
        "falco",
        "model rejects as written, does not fire: allowedHostPaths.readOnly (mount joined to its volume by name)",
        "a volume mount names its volume; a rule cannot join a mount to the hostPath volume of that name",
    ),
    // kubewarden: PSP's defaulting that no Kubewarden policy (kubewarden/policies at the
    // versions pinned in `src/backend/kubewarden.rs`) can perform; the cel-policy validation
    // still requires the value, so pods PSP would have changed must carry it themselves.
    (
        "kubewarden",
        "needs mutation (defaulting): spec.fsGroup",
        "allowed-fsgroups-psp defaults fsGroup by replacing the pod's whole securityContext \
         (src/lib.rs do_validate), so it is only called on pods without pod-level security settings",
    ),
    (
        "kubewarden",
        "needs mutation (defaulting): spec.readOnlyRootFilesystem",
        "no Kubewarden policy sets readOnlyRootFilesystem (readonly-root-filesystem-psp only \
         validates: metadata.yml mutating: false)",
    ),
    (
        "kubewarden",
        "needs mutation (defaulting): metadata.annotations[seccomp.security.alpha.kubernetes.io/allowedProfileNames]",
        "no Kubewarden policy sets a seccomp profile (seccomp-psp only validates: metadata.yml \
         mutating: false)",
    ),
    (
        "kubewarden",
        "needs mutation (defaulting): metadata.annotations[apparmor.security.beta.kubernetes.io/allowedProfileNames]",
        "no Kubewarden policy sets an AppArmor profile (apparmor-psp only validates: metadata.yml \
         mutating: false)",
    ),
    (
        "kubewarden",
        "needs mutation (defaulting): spec.requiredDropCapabilities",
        "capabilities-psp's mutation sets the securityContext of every container it leaves \
         unchanged to none (src/mutate.rs patch_object), so it is only called when every \
         container needs the capabilities; and it never reads ephemeral containers",
    ),
    (
        "kubewarden",
        "needs mutation (defaulting): spec.allowPrivilegeEscalation",
        "allow-privilege-escalation-psp defaults containers and init containers only (src/lib.rs \
         patch_containers): ephemeral containers",
    ),
    (
        "kubewarden",
        "needs mutation (defaulting): spec.runAsUser",
        "user-group-psp defaults containers and init containers only (src/lib.rs validate): \
         ephemeral containers",
    ),
    (
        "kubewarden",
        "needs mutation (defaulting): spec.runAsGroup",
        "user-group-psp defaults containers and init containers only (src/lib.rs validate): \
         ephemeral containers",
    ),
];

/// Unexplained groups known today (ratchet): (backend, group key, count at the default pairs).
/// A new group fails the test; so does a listed group that no longer occurs (remove it).
const KNOWN: &[(&str, &str, usize)] = &[
    // kyverno: 0 (each container's own profiles, effective ids and SELinux options, and the
    // projected service-account token read as PSP did).
    // vap, kyverno-cel, kubewarden: 0 (the MutatingAdmissionPolicy / MutatingPolicy does PSP's
    // defaulting; the CEL validations read seccomp defaults, the projected service-account token
    // and SELinux level categories as PSP did).
];

/// Unexplained disagreeing pairs per backend at the default pairs (ratchet: may only fall).
const KNOWN_TOTAL: &[(&str, usize)] = &[
    ("check --psp", 0),
    ("gatekeeper", 0),
    ("kyverno", 0),
    ("vap", 0),
    ("kyverno-cel", 0),
    ("kubewarden", 0),
    ("falco", 0),
];

/// A backend's output for one PSP, compiled for its engine.
enum Compiled {
    Check(Policy),
    Gatekeeper(gk_engine::Output),
    Kyverno(Vec<ky::Policy>),
    Cel(cel_engine::Output),
    Kubewarden(kw_engine::Output),
    Falco(falco_engine::RulesFile),
}

fn emit_text(target: &str, policies: &[Policy]) -> String {
    let t = polytrans::backend::target(target).unwrap();
    let scope = polytrans::scope::Scope::unscoped(policies);
    polytrans::pipeline::emit(
        t,
        policies,
        &scope,
        &polytrans::backend::Common::default(),
        &polytrans::backend::Options::default(),
    )
    .unwrap_or_else(|e| panic!("{target}: {e:?}"))
    .stdout
}

fn compile(b: Backend, policies: &[Policy]) -> Compiled {
    let Some(target) = b.target() else {
        return Compiled::Check(policies[0].clone());
    };
    let text = emit_text(target, policies);
    match b {
        Backend::Gatekeeper => Compiled::Gatekeeper(gk_engine::Output::from_text(&text)),
        Backend::Kyverno => Compiled::Kyverno(ky::Policy::all_from_text(&text)),
        Backend::Vap | Backend::KyvernoCel => Compiled::Cel(cel_engine::Output::from_output(&text)),
        Backend::Kubewarden => Compiled::Kubewarden(kw_engine::Output::from_text(&text)),
        Backend::Falco => Compiled::Falco(
            falco_engine::RulesFile::from_text(&text).unwrap_or_else(|e| panic!("{e}\n{text}")),
        ),
        Backend::Check => unreachable!(),
    }
}

/// One reason a backend rejects (or, for Falco, detects): the PSP field its rule covers and
/// the engine's message.
#[derive(Debug, Clone)]
struct Finding {
    field: String,
    message: String,
}

/// A pod as every engine takes it: the defaulted JSON and polytrans' typed pod.
struct PodInput {
    json: Value,
    typed: Option<polytrans::pod::Pod>,
}

impl PodInput {
    fn new(raw: &Value) -> PodInput {
        let mut json = raw.clone();
        model::api_server_defaults(&mut json);
        let typed = polytrans::pod::pod_of(&to_objects(&json)[0])
            .and_then(Result::ok)
            .map(|f| f.pod);
        PodInput { json, typed }
    }
}

/// `Violation (<field>)` in a Falco rule name.
fn falco_rule_field(name: &str) -> String {
    name.split_once("Violation (")
        .and_then(|(_, r)| r.split_once(')'))
        .map_or(name, |(f, _)| f)
        .to_string()
}

/// `… `gen` <field>: pod violates …` in a CEL message.
fn cel_label_field(label: &str) -> String {
    label
        .split_once("` ")
        .and_then(|(_, r)| r.split_once(": "))
        .map_or(label, |(f, _)| f)
        .trim_matches('\'')
        .to_string()
}

/// The backend's findings on a pod (empty: admitted, nothing fired); `Err` on an engine error.
fn run(c: &Compiled, lib: &gk_engine::Library, pod: &PodInput) -> Result<Vec<Finding>, String> {
    match c {
        Compiled::Check(policy) => {
            let typed = pod.typed.as_ref().ok_or("polytrans cannot read the pod")?;
            Ok(polytrans::eval::admits(policy, typed)
                .iter()
                .map(|v| Finding {
                    field: v.field.clone(),
                    message: v.message(),
                })
                .collect())
        }
        Compiled::Gatekeeper(out) => Ok(out
            .violations(lib, &pod.json)
            .into_iter()
            .map(|v| {
                // `Kind/<psp>-<what>: msg`
                let name = v.split_once(": ").map_or(v.as_str(), |(n, _)| n);
                let what = name.split_once('/').map_or(name, |(_, n)| n);
                Finding {
                    field: what.strip_prefix("gen-").unwrap_or(what).to_string(),
                    message: v.clone(),
                }
            })
            .collect()),
        Compiled::Kyverno(policies) => {
            let out = ky::apply_all(policies, &ky::Request::create(ky::api_json(&pod.json)));
            let mut found = Vec::new();
            for (rule, v) in &out.results {
                match v {
                    ky::Verdict::Fail(m) => found.push(Finding {
                        field: rule.strip_prefix("psp-gen-").unwrap_or(rule).to_string(),
                        message: format!("{rule}: {m}"),
                    }),
                    ky::Verdict::Error(e) => return Err(format!("{rule}: {e}")),
                    _ => {}
                }
            }
            Ok(found)
        }
        Compiled::Cel(out) => {
            let mut found = Vec::new();
            let mutated = crate::engines::map::mutate_all(&out.mutating, &pod.json)?;
            for p in &out.validating {
                for label in p.try_run(&mutated)? {
                    found.push(Finding {
                        field: cel_label_field(&label),
                        message: label,
                    });
                }
            }
            Ok(found)
        }
        Compiled::Kubewarden(out) => {
            let (_, _, why) = out.review(&pod.json);
            Ok(why
                .into_iter()
                .map(|m| {
                    // `<policy name>: message`; policy names are `psp-<psp>-<NN>-<module>`.
                    let name = m.split_once(": ").map_or(m.as_str(), |(n, _)| n);
                    let module = name.strip_prefix("psp-gen-").unwrap_or(name);
                    let module = module
                        .split_once('-')
                        .filter(|(step, _)| step.chars().all(|c| c.is_ascii_digit()))
                        .map_or(module, |(_, m)| m);
                    // cel-policy: the PSP field its failed validation names.
                    let field = if module == "cel-policy" {
                        cel_label_field(m.split_once(": ").map_or(m.as_str(), |(_, r)| r))
                    } else {
                        module.to_string()
                    };
                    Finding {
                        field,
                        message: m.clone(),
                    }
                })
                .collect())
        }
        Compiled::Falco(rules) => {
            let ev = falco_engine::audit_event(&pod.json);
            Ok(rules
                .fired(&ev)
                .into_iter()
                .map(|r| Finding {
                    field: falco_rule_field(r),
                    message: r.to_string(),
                })
                .collect())
        }
    }
}

/// The model's verdicts on one pod: after PSP admission (mutation, then validation) and on the
/// pod as written.
struct Reference {
    admitted: model::Verdict,
    as_written: model::Verdict,
}

impl Reference {
    fn new(psp: &[model::Psp], pod: &PodInput) -> Reference {
        Reference {
            admitted: model::admit(psp, &pod.json),
            as_written: model::validate_as_written(psp, &pod.json),
        }
    }

    fn for_backend(&self, b: Backend) -> &model::Verdict {
        if b.detects_only() {
            &self.as_written
        } else {
            &self.admitted
        }
    }

    /// The pod as PSP admission mutated it (without the `kubernetes.io/psp` annotation), when
    /// admitted and changed.
    fn mutated(&self, pod: &PodInput) -> Option<Value> {
        let model::Verdict::Admitted { pod: m, .. } = &self.admitted else {
            return None;
        };
        let mut m = m.clone();
        if let Some(ann) = m["metadata"]["annotations"].as_object_mut() {
            ann.remove("kubernetes.io/psp");
            if ann.is_empty() && pod.json["metadata"].get("annotations").is_none() {
                m["metadata"].as_object_mut().unwrap().remove("annotations");
            }
        }
        (m != pod.json).then_some(m)
    }
}

/// The disagreement groups of a backend's result against the reference (empty when they
/// agree): one per PSP field responsible, so a pair may fall in several groups.
fn classify(
    b: Backend,
    c: &Compiled,
    lib: &gk_engine::Library,
    pod: &PodInput,
    reference: &Reference,
    got: &Result<Vec<Finding>, String>,
) -> BTreeSet<String> {
    let r = reference.for_backend(b);
    let found = match got {
        Err(e) => {
            let first = e.lines().next().unwrap_or("");
            let first: String = first.chars().take(90).collect();
            return BTreeSet::from([format!("engine error: {}", normalise(&first))]);
        }
        Ok(f) => f,
    };
    let (rejects, admits) = if b.detects_only() {
        (
            "model accepts as written, fires",
            "model rejects as written, does not fire",
        )
    } else {
        ("model admits, rejects", "model rejects, admits")
    };
    match (r.admitted(), found.is_empty()) {
        (true, true) | (false, false) => BTreeSet::new(),
        (true, false) => {
            // Rules that pass on the pod as PSP mutated it only miss PSP's defaulting.
            let still: BTreeSet<String> = match (b, reference.mutated(pod)) {
                (Backend::Vap | Backend::KyvernoCel | Backend::Kubewarden, Some(m)) => {
                    let mpod = PodInput {
                        json: m,
                        typed: None,
                    };
                    match run(c, lib, &mpod) {
                        Ok(f) => f.into_iter().map(|f| f.field).collect(),
                        Err(_) => found.iter().map(|f| f.field.clone()).collect(),
                    }
                }
                _ => found.iter().map(|f| f.field.clone()).collect(),
            };
            found
                .iter()
                .map(|f| {
                    if still.contains(&f.field) {
                        format!("{rejects}: {}", f.field)
                    } else {
                        format!("needs mutation (defaulting): {}", f.field)
                    }
                })
                .collect()
        }
        (false, true) => r
            .messages()
            .iter()
            .map(|m| {
                let field = model_field(m);
                match unreadable_by_name(m, &pod.json).filter(|_| b == Backend::Falco) {
                    Some(why) => format!("{admits}: {field} {why}"),
                    None => format!("{admits}: {field}"),
                }
            })
            .collect(),
    }
}

/// Why a model rejection hangs on a value Falco cannot read (the suffix of its group), if it
/// does: a rule names its JSON pointers in advance and cannot build one from a field's value, so
/// it cannot read an AppArmor or seccomp annotation keyed by the container's name
/// (`container.apparmor…/<name>`, when the pod carries such annotations and, for seccomp, the
/// container has no `seccompProfile` field of its own), nor join a volume mount to its volume by
/// name (hostPath `readOnly`).
fn unreadable_by_name(message: &str, pod: &Value) -> Option<&'static str> {
    const ANNOTATION: &str = "(annotation keyed by container name)";
    let annotations = pod["metadata"]["annotations"].as_object();
    let has_prefix =
        |prefix: &str| annotations.is_some_and(|a| a.keys().any(|k| k.starts_with(prefix)));
    for prefix in [
        "container.apparmor.security.beta.kubernetes.io/",
        "container.seccomp.security.alpha.kubernetes.io/",
    ] {
        let Some((_, rest)) = message.split_once(&format!("annotations[{prefix}")) else {
            continue;
        };
        if !has_prefix(prefix) {
            return None;
        }
        if prefix.starts_with("container.apparmor") {
            return Some(ANNOTATION);
        }
        let name = rest.split(']').next().unwrap_or("");
        let own_field = ["containers", "initContainers", "ephemeralContainers"]
            .iter()
            .filter_map(|l| pod["spec"][l].as_array())
            .flatten()
            .filter(|c| c["name"].as_str() == Some(name))
            .any(|c| c["securityContext"].get("seccompProfile").is_some());
        return (!own_field).then_some(ANNOTATION);
    }
    message
        .contains("must be read-only")
        .then_some("(mount joined to its volume by name)")
}

/// `None` when polytrans refuses the PSP.
fn lower(psp: &Value) -> Option<Vec<Policy>> {
    polytrans::front::psp::lower_all(&to_objects(psp))
        .ok()
        .map(|(p, _)| p)
}

/// The groups of one pair for one backend, from scratch (for minimising).
fn keys_of(b: Backend, lib: &gk_engine::Library, psp: &Value, pod: &Value) -> BTreeSet<String> {
    let Some(policies) = lower(psp) else {
        return BTreeSet::new();
    };
    let c = compile(b, &policies);
    keys_with(b, &c, lib, psp, pod)
}

fn keys_with(
    b: Backend,
    c: &Compiled,
    lib: &gk_engine::Library,
    psp: &Value,
    pod: &Value,
) -> BTreeSet<String> {
    let input = PodInput::new(pod);
    if b == Backend::Check && input.typed.is_none() {
        return BTreeSet::new();
    }
    let reference = Reference::new(&[model::Psp::from_value(psp)], &input);
    let got = run(c, lib, &input);
    classify(b, c, lib, &input, &reference, &got)
}

/// Deletable places of the PSP (spec and annotations) or of the pod, parents first.
fn deletable(v: &Value, pod: bool) -> Vec<String> {
    let mut ps = Vec::new();
    places(&v["spec"], "/spec".into(), &mut ps);
    places(
        &v["metadata"]["annotations"],
        "/metadata/annotations".into(),
        &mut ps,
    );
    if pod {
        // Keep the pod valid: one container at least, containers keep their names.
        ps.retain(|p| {
            p != "/spec/containers" && p != "/spec/containers/0" && !p.ends_with("/name")
        });
    }
    ps
}

/// Greedily deletes parts of the PSP and of the pod while the pair stays in group `key`.
fn shrink(
    b: Backend,
    lib: &gk_engine::Library,
    mut psp: Value,
    mut pod: Value,
    key: &str,
) -> (Value, Value) {
    for _round in 0..4 {
        let mut changed = false;
        for p in deletable(&psp, false) {
            if psp.pointer(&p).is_none() {
                continue;
            }
            let cand = delete(&psp, &p);
            if keys_of(b, lib, &cand, &pod).contains(key) {
                psp = cand;
                changed = true;
            }
        }
        // The PSP is fixed while the pod shrinks: compile once.
        if let Some(policies) = lower(&psp) {
            let c = compile(b, &policies);
            for p in deletable(&pod, true) {
                if pod.pointer(&p).is_none() {
                    continue;
                }
                let cand = delete(&pod, &p);
                if keys_with(b, &c, lib, &psp, &cand).contains(key) {
                    pod = cand;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    (psp, pod)
}

/// One group: count and the first pair seen (by PSP index).
struct Group {
    count: usize,
    first: usize,
    psp: Value,
    pod: Value,
}

#[derive(Default)]
struct Tally {
    total: usize,
    agree: usize,
    /// Disagreeing pairs whose every group is one the engine cannot express.
    cannot: usize,
    /// Other disagreeing pairs.
    unexplained: usize,
    groups: BTreeMap<String, Group>,
    /// Detectors only: per model field, pairs the model rejects as written for it and, of
    /// those, pairs on which some rule fires.
    detected: BTreeMap<String, (usize, usize)>,
    /// Detectors only: per rule field, pairs the model accepts as written on which it fires.
    false_fires: BTreeMap<String, usize>,
    compile_secs: f64,
    run_secs: f64,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.total += o.total;
        self.agree += o.agree;
        self.cannot += o.cannot;
        self.unexplained += o.unexplained;
        self.compile_secs += o.compile_secs;
        self.run_secs += o.run_secs;
        for (k, (r, d)) in o.detected {
            let e = self.detected.entry(k).or_default();
            e.0 += r;
            e.1 += d;
        }
        for (k, n) in o.false_fires {
            *self.false_fires.entry(k).or_default() += n;
        }
        for (k, g) in o.groups {
            match self.groups.get_mut(&k) {
                None => {
                    self.groups.insert(k, g);
                }
                Some(mine) => {
                    mine.count += g.count;
                    if g.first < mine.first {
                        (mine.first, mine.psp, mine.pod) = (g.first, g.psp, g.pod);
                    }
                }
            }
        }
    }
}

fn cannot_express(b: Backend, key: &str) -> bool {
    CANNOT_EXPRESS
        .iter()
        .any(|(kb, kk, _)| *kb == b.name() && *kk == key)
}

fn known(b: Backend, key: &str) -> bool {
    KNOWN
        .iter()
        .any(|(kb, kk, _)| *kb == b.name() && *kk == key)
}

/// One generated PSP (with its index) and its pods.
type Case = (usize, Value, Vec<Value>);

/// What one worker found.
#[derive(Default)]
struct Partial {
    tallies: BTreeMap<Backend, Tally>,
    refused: usize,
    refusals: BTreeMap<String, (usize, Value)>,
    /// Pods the API server's own validation refuses before validating admission
    /// (`model::validate_pod_object`): reason → (count, first pod).
    invalid: BTreeMap<String, (usize, Value)>,
    unreadable: usize,
    lower_secs: f64,
    model_secs: f64,
}

impl Partial {
    fn merge(&mut self, o: Partial) {
        for (b, t) in o.tallies {
            self.tallies.entry(b).or_default().merge(t);
        }
        self.refused += o.refused;
        for (k, (n, psp)) in o.refusals {
            self.refusals.entry(k).or_insert((0, psp)).0 += n;
        }
        for (k, (n, pod)) in o.invalid {
            self.invalid.entry(k).or_insert((0, pod)).0 += n;
        }
        self.unreadable += o.unreadable;
        self.lower_secs += o.lower_secs;
        self.model_secs += o.model_secs;
    }
}

/// Judges the cases on every backend (some on a sample, see [`Backend::every`]).
fn judge(cases: &[&Case], shared: &std::path::Path, show: Option<&str>) -> Partial {
    let lib = gk_engine::Library::from_shared(shared);
    let mut out = Partial::default();
    for (index, psp, pods) in cases.iter().copied() {
        let t = Instant::now();
        let lowered = polytrans::front::psp::lower_all(&to_objects(psp));
        out.lower_secs += t.elapsed().as_secs_f64();
        let policies = match lowered {
            Ok((p, _)) => p,
            Err(d) => {
                out.refused += 1;
                let first = d.to_string().lines().next().unwrap_or("").to_string();
                out.refusals
                    .entry(normalise(&first))
                    .or_insert((0, psp.clone()))
                    .0 += 1;
                continue;
            }
        };
        let compiled: Vec<(Backend, Compiled)> = Backend::ALL
            .iter()
            .filter(|b| index % b.every() == 0 && b.selected())
            .map(|b| {
                let t = Instant::now();
                let c = compile(*b, &policies);
                out.tallies.entry(*b).or_default().compile_secs += t.elapsed().as_secs_f64();
                (*b, c)
            })
            .collect();
        let model_psp = [model::Psp::from_value(psp)];
        for raw in pods {
            let t = Instant::now();
            let input = PodInput::new(raw);
            if let Some(why) = model::validate_pod_object(&input.json).first() {
                let key = normalise(why);
                out.invalid.entry(key).or_insert((0, raw.clone())).0 += 1;
                out.model_secs += t.elapsed().as_secs_f64();
                continue;
            }
            if input.typed.is_none() {
                out.unreadable += 1;
            }
            let reference = Reference::new(&model_psp, &input);
            out.model_secs += t.elapsed().as_secs_f64();
            for (b, c) in &compiled {
                if *b == Backend::Check && input.typed.is_none() {
                    continue;
                }
                let t = Instant::now();
                let got = run(c, &lib, &input);
                let keys = classify(*b, c, &lib, &input, &reference, &got);
                let tally = out.tallies.get_mut(b).unwrap();
                tally.run_secs += t.elapsed().as_secs_f64();
                tally.total += 1;
                if b.detects_only() {
                    let fired: Vec<Finding> = got.as_ref().map_or(Vec::new(), Clone::clone);
                    let fields: BTreeSet<&str> = reference
                        .as_written
                        .messages()
                        .iter()
                        .map(|m| model_field(m))
                        .collect();
                    for f in fields {
                        let e = tally.detected.entry(f.to_string()).or_default();
                        e.0 += 1;
                        e.1 += usize::from(!fired.is_empty());
                    }
                    if reference.as_written.admitted() {
                        for f in fired.iter().map(|f| &f.field).collect::<BTreeSet<_>>() {
                            *tally.false_fires.entry(f.clone()).or_default() += 1;
                        }
                    }
                }
                if keys.is_empty() {
                    tally.agree += 1;
                    continue;
                }
                if keys.iter().all(|k| cannot_express(*b, k)) {
                    tally.cannot += 1;
                } else {
                    tally.unexplained += 1;
                }
                for key in keys {
                    if show.is_some_and(|s| key.contains(s)) {
                        println!(
                            "  show {} {key}\n    psp {psp}\n    pod {raw}\n    got {got:?}\n    model {}",
                            b.name(),
                            reference.for_backend(*b).message()
                        );
                    }
                    tally
                        .groups
                        .entry(key)
                        .or_insert_with(|| Group {
                            count: 0,
                            first: *index,
                            psp: psp.clone(),
                            pod: raw.clone(),
                        })
                        .count += 1;
                }
            }
        }
    }
    out
}

#[test]
fn differential() {
    let Some(shared) = common::shared() else {
        return;
    };
    let n: usize = std::env::var("DIFF_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(PAIRS);
    let show = std::env::var("DIFF_SHOW").ok();
    let minimise = std::env::var("DIFF_SHRINK").map_or(true, |v| v != "0");
    let started = Instant::now();
    // Generation is sequential (one seeded stream); judging is split over `WORKERS` threads.
    let mut rng = psp_gen::Rng::new(SEED);
    let mut cases: Vec<Case> = Vec::new();
    let mut pairs = 0;
    while pairs < n {
        let psp = psp_gen::psp(&mut rng, "gen");
        let pods: Vec<Value> = (0..PODS_PER_PSP)
            .map(|_| psp_gen::pod(&mut rng, &psp))
            .collect();
        // Pairs count the pods the API server lets through to admission (see `judge`).
        pairs += pods
            .iter()
            .filter(|p| {
                let mut json = (*p).clone();
                model::api_server_defaults(&mut json);
                model::validate_pod_object(&json).is_empty()
            })
            .count();
        cases.push((cases.len(), psp, pods));
    }
    let psps = cases.len();
    let mut all = Partial::default();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let mine: Vec<&Case> = cases.iter().skip(w).step_by(WORKERS).collect();
                let shared = &shared;
                let show = show.as_deref();
                s.spawn(move || judge(&mine, shared, show))
            })
            .collect();
        for h in handles {
            all.merge(h.join().unwrap());
        }
    });
    let Partial {
        tallies,
        refused,
        refusals,
        invalid,
        unreadable,
        lower_secs,
        model_secs,
    } = all;
    let lib = gk_engine::Library::from_shared(&shared);
    let judged = started.elapsed().as_secs_f64();

    let mut report = String::new();
    writeln!(
        report,
        "differential: {pairs} pairs from {psps} generated PSPs (seed {SEED:#x}, {PODS_PER_PSP} pods each); polytrans refused {refused} PSPs ({} pairs not judged); {unreadable} pods polytrans cannot read; judged in {judged:.0}s (lowering {lower_secs:.0}s, model {model_secs:.0}s)",
        refused * PODS_PER_PSP,
    )
    .unwrap();
    for (why, (count, psp)) in &refusals {
        writeln!(report, "  refused {count}: {why}\n      PSP {psp}").unwrap();
    }
    writeln!(
        report,
        "differential: {} generated pods are invalid objects the API server refuses before admission (not judged)",
        invalid.values().map(|(n, _)| n).sum::<usize>()
    )
    .unwrap();
    for (why, (count, pod)) in &invalid {
        writeln!(report, "  invalid {count}: {why}\n      pod {pod}").unwrap();
    }
    let mut failures = Vec::new();
    for b in Backend::ALL {
        let Some(t) = tallies.get(&b) else { continue };
        let name = b.name();
        let cannot: Vec<String> = t
            .groups
            .iter()
            .filter(|(k, _)| cannot_express(b, k))
            .map(|(k, g)| format!("{k}: {}", g.count))
            .collect();
        if b.every() > 1 {
            writeln!(
                report,
                "differential {name}: judged the pods of 1 generated PSP in {} only ({} pairs): its engine is too slow for all {pairs} within the time budget",
                b.every(),
                t.total
            )
            .unwrap();
        }
        writeln!(
            report,
            "differential {name}: agree {}/{}, engine cannot express {} ({}), unexplained {} [emit {:.0}s, engine {:.0}s]",
            t.agree,
            t.total,
            t.cannot,
            if cannot.is_empty() {
                "none".to_string()
            } else {
                cannot.join("; ")
            },
            t.unexplained,
            t.compile_secs,
            t.run_secs
        )
        .unwrap();
        if b.detects_only() {
            let per: Vec<String> = t
                .detected
                .iter()
                .map(|(f, (r, d))| format!("{f} {d}/{r}"))
                .collect();
            let fp: Vec<String> = t
                .false_fires
                .iter()
                .map(|(f, n)| format!("{f} {n}"))
                .collect();
            writeln!(
                report,
                "differential {name} per field (pairs the model rejects as written for the field: some rule fires/all): {}\ndifferential {name} fires where the model accepts as written: {}",
                per.join(", "),
                if fp.is_empty() { "never".to_string() } else { fp.join(", ") }
            )
            .unwrap();
        }
        let mut sorted: Vec<(&String, &Group)> = t.groups.iter().collect();
        sorted.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        for (key, g) in sorted {
            let tag = if cannot_express(b, key) {
                "cannot express"
            } else if known(b, key) {
                "known"
            } else {
                failures.push(format!("{name}: new group `{key}`"));
                "NEW"
            };
            writeln!(report, "  {:6} [{tag}] {name}: {key}", g.count).unwrap();
            if !minimise {
                continue;
            }
            let (psp, pod) = shrink(b, &lib, g.psp.clone(), g.pod.clone(), key);
            let input = PodInput::new(&pod);
            let c = compile(b, &lower(&psp).unwrap());
            let reference = Reference::new(&[model::Psp::from_value(&psp)], &input);
            let got: Vec<String> = match run(&c, &lib, &input) {
                Ok(f) => f.into_iter().map(|f| f.message).collect(),
                Err(e) => vec![format!("error: {e}")],
            };
            writeln!(
                report,
                "      PSP annotations {} spec {}\n      pod metadata {} spec {}\n      model: {}\n      {name}: {got:?}",
                psp["metadata"]["annotations"],
                psp["spec"],
                pod["metadata"],
                pod["spec"],
                reference.for_backend(b).message()
            )
            .unwrap();
        }
        if n == PAIRS {
            let known_total = KNOWN_TOTAL
                .iter()
                .find(|(kb, _)| *kb == name)
                .map_or(0, |(_, c)| *c);
            if t.unexplained > known_total {
                failures.push(format!(
                    "{name}: unexplained {} > known {known_total}",
                    t.unexplained
                ));
            }
            for (_, kk, _) in KNOWN.iter().filter(|(kb, _, _)| *kb == name) {
                if !t.groups.contains_key(*kk) {
                    failures.push(format!(
                        "{name}: known group `{kk}` no longer occurs: remove it from KNOWN"
                    ));
                }
            }
        }
    }
    writeln!(
        report,
        "differential: done in {:.0}s",
        started.elapsed().as_secs_f64()
    )
    .unwrap();
    print!("{report}");
    assert!(failures.is_empty(), "{failures:#?}");
}
