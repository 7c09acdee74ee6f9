//! A typed view of the security-relevant parts of a Pod, and how to find one in a Pod or in the
//! pod template of a workload.
//!
//! Only fields that some PSP or PSS check reads are modelled; everything else is ignored. Absent
//! and `null` are the same thing (Go decoding semantics). [`Pod::apply_api_defaults`] applies the
//! API server defaulting that runs before admission (a volume with no source is an `emptyDir`;
//! a `hostNetwork` pod's `hostPort` defaults to its `containerPort`).

use crate::diag::Diagnostic;
use crate::load::{Node, Object};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
}

/// A pod (or a workload's pod template): metadata and spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_default")]
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub host_network: Option<bool>,
    #[serde(default, rename = "hostPID")]
    pub host_pid: Option<bool>,
    #[serde(default, rename = "hostIPC")]
    pub host_ipc: Option<bool>,
    #[serde(default)]
    pub host_users: Option<bool>,
    /// Boxed, as are the other large optional parts: serde moves every value through several
    /// layers, and small structs keep those moves cheap.
    #[serde(default)]
    pub security_context: Option<Box<PodSecurityContext>>,
    #[serde(default, deserialize_with = "null_default")]
    pub containers: Vec<Container>,
    #[serde(default, deserialize_with = "null_default")]
    pub init_containers: Vec<Container>,
    #[serde(default, deserialize_with = "null_default")]
    pub ephemeral_containers: Vec<Container>,
    #[serde(default, deserialize_with = "null_default")]
    pub volumes: Vec<Volume>,
    #[serde(default)]
    pub runtime_class_name: Option<String>,
    #[serde(default)]
    pub os: Option<PodOs>,
    #[serde(default)]
    pub service_account_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodOs {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    #[serde(default)]
    pub run_as_user: Option<i64>,
    #[serde(default)]
    pub run_as_group: Option<i64>,
    #[serde(default)]
    pub run_as_non_root: Option<bool>,
    #[serde(default)]
    pub fs_group: Option<i64>,
    #[serde(default)]
    pub supplemental_groups: Option<Vec<i64>>,
    #[serde(default, rename = "seLinuxOptions")]
    pub se_linux_options: Option<Box<SeLinuxOptions>>,
    #[serde(default)]
    pub seccomp_profile: Option<Profile>,
    #[serde(default)]
    pub app_armor_profile: Option<Profile>,
    #[serde(default, deserialize_with = "null_default")]
    pub sysctls: Vec<Sysctl>,
    #[serde(default)]
    pub windows_options: Option<WindowsOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    #[serde(default)]
    pub privileged: Option<bool>,
    #[serde(default)]
    pub allow_privilege_escalation: Option<bool>,
    #[serde(default)]
    pub read_only_root_filesystem: Option<bool>,
    #[serde(default)]
    pub run_as_non_root: Option<bool>,
    #[serde(default)]
    pub run_as_user: Option<i64>,
    #[serde(default)]
    pub run_as_group: Option<i64>,
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
    #[serde(default)]
    pub proc_mount: Option<String>,
    #[serde(default, rename = "seLinuxOptions")]
    pub se_linux_options: Option<Box<SeLinuxOptions>>,
    #[serde(default)]
    pub seccomp_profile: Option<Profile>,
    #[serde(default)]
    pub app_armor_profile: Option<Profile>,
    #[serde(default)]
    pub windows_options: Option<WindowsOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default, deserialize_with = "null_default")]
    pub add: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub drop: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeLinuxOptions {
    #[serde(default, deserialize_with = "null_default")]
    pub user: String,
    #[serde(default, deserialize_with = "null_default")]
    pub role: String,
    #[serde(default, deserialize_with = "null_default", rename = "type")]
    pub type_: String,
    #[serde(default, deserialize_with = "null_default")]
    pub level: String,
}

/// `seccompProfile` or `appArmorProfile`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default, rename = "type", deserialize_with = "null_default")]
    pub type_: String,
    #[serde(default)]
    pub localhost_profile: Option<String>,
}

impl Profile {
    /// The profile in PSP annotation form: `runtime/default`, `localhost/<p>`, `unconfined`.
    pub fn annotation_form(&self) -> String {
        match self.type_.as_str() {
            "RuntimeDefault" => "runtime/default".into(),
            "Unconfined" => "unconfined".into(),
            "Localhost" => format!(
                "localhost/{}",
                self.localhost_profile.as_deref().unwrap_or("")
            ),
            other => other.to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sysctl {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowsOptions {
    #[serde(default)]
    pub host_process: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub image: String,
    #[serde(default, deserialize_with = "null_default")]
    pub ports: Vec<ContainerPort>,
    #[serde(default)]
    pub security_context: Option<Box<SecurityContext>>,
    #[serde(default, deserialize_with = "null_default")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default)]
    pub liveness_probe: Option<Box<Handler>>,
    #[serde(default)]
    pub readiness_probe: Option<Box<Handler>>,
    #[serde(default)]
    pub startup_probe: Option<Box<Handler>>,
    #[serde(default)]
    pub lifecycle: Option<Box<Lifecycle>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    #[serde(default)]
    pub container_port: Option<i64>,
    #[serde(default)]
    pub host_port: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub mount_path: String,
    #[serde(default)]
    pub read_only: Option<bool>,
}

/// A probe or lifecycle handler (only `host` matters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handler {
    #[serde(default)]
    pub http_get: Option<HostField>,
    #[serde(default)]
    pub tcp_socket: Option<HostField>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostField {
    #[serde(default, deserialize_with = "null_default")]
    pub host: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    #[serde(default)]
    pub post_start: Option<Handler>,
    #[serde(default)]
    pub pre_stop: Option<Handler>,
}

/// A volume: its name and its source (the one non-null key besides `name`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Volume {
    pub name: String,
    #[serde(flatten)]
    pub sources: BTreeMap<String, Json>,
}

/// A JSON value as a volume source holds it: what a `serde_json::Value` would, keys in written
/// order, without the hashing of its maps (`check` decodes the volumes of every pod it reads).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }
}

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(t) => s.serialize_str(t),
            Json::Array(a) => s.collect_seq(a),
            Json::Object(entries) => s.collect_map(entries.iter().map(|(k, v)| (k, v))),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
                // As `serde_json::Value`: a non-finite number is null.
                Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
            }
            fn visit_str<E>(self, t: &str) -> Result<Json, E> {
                Ok(Json::String(t.to_string()))
            }
            fn visit_string<E>(self, t: String) -> Result<Json, E> {
                Ok(Json::String(t))
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
                Json::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut entries: Vec<(String, Json)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    // As `serde_json::Value`: a repeated key keeps its place and takes the
                    // later value (the loaders refuse repeated keys before this).
                    match entries.iter_mut().find(|(e, _)| *e == k) {
                        Some(e) => e.1 = v,
                        None => entries.push((k, v)),
                    }
                }
                Ok(Json::Object(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// What `#[serde(flatten)]` would read, without buffering every entry first: `name` (absent
/// or `null`: empty), every other key into `sources`.
impl<'de> Deserialize<'de> for Volume {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Volume;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("struct Volume")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Volume, A::Error> {
                let mut name: Option<String> = None;
                let mut sources = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "name" {
                        if name.is_some() {
                            return Err(serde::de::Error::duplicate_field("name"));
                        }
                        name = Some(map.next_value::<Option<String>>()?.unwrap_or_default());
                    } else {
                        let value = map.next_value::<Json>()?;
                        sources.insert(key, value);
                    }
                }
                Ok(Volume {
                    name: name.unwrap_or_default(),
                    sources,
                })
            }
        }
        d.deserialize_map(V)
    }
}

pub use crate::k8s::VOLUME_SOURCES;

impl Volume {
    /// The source key as written in the pod (`hostPath`, `emptyDir`, …); `unknown` when none.
    pub fn source_key(&self) -> &str {
        self.sources
            .iter()
            .find(|(k, v)| !v.is_null() && VOLUME_SOURCES.contains(&k.as_str()))
            .map(|(k, _)| k.as_str())
            .unwrap_or("unknown")
    }

    /// The PSP `volumes` name of the source (`cephFS` for `cephfs`, else the key).
    pub fn fs_type(&self) -> &str {
        crate::k8s::psp_volume_name(self.source_key())
    }

    /// Whether this is a `projected` volume made only of the sources the ServiceAccount
    /// admission plugin injects (Kubernetes `IsOnlyServiceAccountTokenSources`): a token at path
    /// `token` without audience, the `kube-root-ca.crt` config map, and the namespace through the
    /// downward API (`fieldRef.apiVersion` defaults to `v1`). PSP lets `secret` cover such a
    /// volume; a projected volume without sources qualifies too.
    pub fn is_service_account_token_projection(&self) -> bool {
        let Some(projected) = self.sources.get("projected").filter(|p| !p.is_null()) else {
            return false;
        };
        let text = |v: &Json, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let sources = projected.get("sources").and_then(|s| s.as_array());
        sources.into_iter().flatten().all(|s| {
            let sat = s.get("serviceAccountToken").filter(|v| !v.is_null());
            let cm = s.get("configMap").filter(|v| !v.is_null());
            let dapi = s.get("downwardAPI").filter(|v| !v.is_null());
            if sat.is_none() && cm.is_none() && dapi.is_none() {
                return false;
            }
            if sat.is_some_and(|t| text(t, "path") != "token" || !text(t, "audience").is_empty()) {
                return false;
            }
            if cm.is_some_and(|c| text(c, "name") != "kube-root-ca.crt") {
                return false;
            }
            let items = dapi.and_then(|d| d.get("items")).and_then(|i| i.as_array());
            items.into_iter().flatten().all(|it| {
                let Some(fr) = it.get("fieldRef").filter(|v| !v.is_null()) else {
                    return false;
                };
                let api = text(fr, "apiVersion");
                text(it, "path") == "namespace"
                    && (api.is_empty() || api == "v1")
                    && text(fr, "fieldPath") == "metadata.namespace"
            })
        })
    }

    fn source_str(&self, source: &str, field: &str) -> Option<&str> {
        self.sources.get(source)?.get(field)?.as_str()
    }

    pub fn host_path(&self) -> Option<&str> {
        self.source_str("hostPath", "path")
    }

    pub fn flex_driver(&self) -> Option<&str> {
        self.source_str("flexVolume", "driver")
    }

    pub fn csi_driver(&self) -> Option<&str> {
        self.source_str("csi", "driver")
    }
}

/// Which list a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    Init,
    Regular,
    Ephemeral,
}

impl PodSpec {
    /// All containers in PSA's order: init containers, containers, ephemeral containers.
    pub fn all_containers(&self) -> impl Iterator<Item = (ContainerKind, &Container)> {
        self.init_containers
            .iter()
            .map(|c| (ContainerKind::Init, c))
            .chain(self.containers.iter().map(|c| (ContainerKind::Regular, c)))
            .chain(
                self.ephemeral_containers
                    .iter()
                    .map(|c| (ContainerKind::Ephemeral, c)),
            )
    }

    pub fn all_containers_mut(&mut self) -> impl Iterator<Item = &mut Container> {
        self.init_containers
            .iter_mut()
            .chain(self.containers.iter_mut())
            .chain(self.ephemeral_containers.iter_mut())
    }

    pub fn is_windows(&self) -> bool {
        self.os.as_ref().is_some_and(|o| o.name == "windows")
    }
}

impl Pod {
    /// API server defaulting that runs before admission.
    pub fn apply_api_defaults(&mut self, is_pod: bool) {
        for v in &mut self.spec.volumes {
            if v.source_key() == "unknown" {
                v.sources.clear();
                v.sources
                    .insert("emptyDir".into(), Json::Object(Vec::new()));
            }
        }
        if is_pod && self.spec.host_network == Some(true) {
            for c in self.spec.all_containers_mut() {
                for p in &mut c.ports {
                    if p.host_port.unwrap_or(0) == 0 {
                        p.host_port = p.container_port;
                    }
                }
            }
        }
    }
}

pub use crate::k8s::POD_KINDS;

/// Where an object of `kind` keeps its pod (see [`crate::k8s::pod_template_path`]).
pub use crate::k8s::pod_template_path as template_path;

/// A pod or workload given as input, with where it runs and where it was read.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Its namespace (`default` when the object names none).
    pub namespace: String,
    /// `file:line` of the object.
    pub location: String,
    /// `pods "name"`, `deployments "name"`: the object as PSA messages name it.
    pub what: String,
    pub found: FoundPod,
}

/// A pod found in the input: a Pod, or a workload's pod template.
#[derive(Debug, Clone)]
pub struct FoundPod {
    pub pod: Pod,
    /// Whether the object is a Pod (only Pods are rejected by PSA enforce).
    pub is_pod: bool,
}

/// Extracts the pod from an object of a pod-bearing kind. `None` for other kinds.
pub fn pod_of(object: &Object) -> Option<Result<FoundPod, Diagnostic>> {
    let path = template_path(&object.kind)?;
    let node = if path.is_empty() {
        Some(&object.node)
    } else {
        object.node.path(path)
    };
    let is_pod = object.kind == "Pod";
    Some(match node {
        None => Ok(FoundPod {
            pod: Pod::default(),
            is_pod,
        }),
        Some(node) => decode_pod(object, node).map(|mut pod| {
            if pod.metadata.name.is_empty() {
                pod.metadata.name = object.name.clone();
            }
            if pod.metadata.namespace.is_none() {
                pod.metadata.namespace = object.namespace.clone();
            }
            pod.apply_api_defaults(is_pod);
            FoundPod { pod, is_pod }
        }),
    })
}

fn decode_pod(object: &Object, node: &Node) -> Result<Pod, Diagnostic> {
    let json = node.to_json();
    serde_path_to_error::deserialize::<_, Pod>(&json).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let at = locate(node, &path).unwrap_or(node);
        Diagnostic::error(format!("`{path}`: {inner}")).at(object.loc(at))
    })
}

/// Finds the node at a serde path like `spec.containers[0].securityContext`.
pub fn locate<'a>(root: &'a Node, path: &str) -> Option<&'a Node> {
    let mut node = root;
    for part in path.split('.') {
        let (key, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            node = node.get(key)?;
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            let i: usize = idx.trim_end_matches(']').parse().ok()?;
            node = node.as_seq()?.get(i)?;
        }
    }
    Some(node)
}

/// An object decoded straight from JSON text (see [`crate::load::ObjectSink::json_item`]):
/// what `polytrans check` reads of it, the same as [`crate::load::Object`] and [`pod_of`] make
/// of the positioned tree. With `POD` false the pod is not decoded (its text is still read
/// strictly).
///
/// Decoding refuses (and the positioned reader then reads the object) what it cannot decode
/// exactly as the positioned path would: a missing or non-string `kind`, a `spec` or `template`
/// before `kind`, a field of another type than the typed view's.
#[derive(Debug, Clone)]
pub struct TypedObject<const POD: bool> {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    /// The pod of a pod-bearing kind, as [`pod_of`] finds it (with `POD`).
    pub found: Option<FoundPod>,
}

/// A workload's `spec` (`spec.template`, or a CronJob's `spec.jobTemplate.spec.template`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TemplateSpec {
    #[serde(default)]
    template: Option<Pod>,
    #[serde(default)]
    job_template: Option<JobTemplate>,
}

#[derive(Deserialize)]
struct JobTemplate {
    #[serde(default)]
    spec: Option<JobSpec>,
}

#[derive(Deserialize)]
struct JobSpec {
    #[serde(default)]
    template: Option<Pod>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum RootKey {
    ApiVersion,
    Kind,
    Metadata,
    Spec,
    Template,
    #[serde(other)]
    Other,
}

impl<'de, const POD: bool> Deserialize<'de> for TypedObject<POD> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RootVisitor::<POD>)
    }
}

struct RootVisitor<const POD: bool>;

impl<'de, const POD: bool> serde::de::Visitor<'de> for RootVisitor<POD> {
    type Value = TypedObject<POD>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::{Error, IgnoredAny};
        let mut api_version = String::new();
        let mut kind: Option<String> = None;
        let mut metadata = None;
        // `Some(None)`: the kind's pod path is absent (or null).
        let mut pod: Option<Option<Pod>> = None;
        while let Some(key) = map.next_key::<RootKey>()? {
            match key {
                RootKey::ApiVersion => {
                    api_version = map.next_value::<Option<String>>()?.unwrap_or_default()
                }
                RootKey::Kind => {
                    let k = map.next_value::<Option<String>>()?.unwrap_or_default();
                    if k.is_empty() {
                        return Err(Error::custom("no kind"));
                    }
                    kind = Some(k);
                }
                RootKey::Metadata => metadata = map.next_value::<Option<ObjectMeta>>()?,
                RootKey::Spec | RootKey::Template if POD => {
                    let Some(k) = kind.as_deref() else {
                        return Err(Error::custom("the pod before the kind"));
                    };
                    match (key, template_path(k)) {
                        (RootKey::Spec, Some([])) => {
                            pod = Some(Some(Pod {
                                metadata: ObjectMeta::default(),
                                spec: map.next_value::<Option<PodSpec>>()?.unwrap_or_default(),
                            }))
                        }
                        (RootKey::Spec, Some(["spec", "template"])) => {
                            let spec = map.next_value::<Option<TemplateSpec>>()?;
                            pod = Some(spec.and_then(|s| s.template));
                        }
                        (RootKey::Spec, Some(["spec", "jobTemplate", "spec", "template"])) => {
                            let spec = map.next_value::<Option<TemplateSpec>>()?;
                            pod = Some(
                                spec.and_then(|s| s.job_template)
                                    .and_then(|j| j.spec)
                                    .and_then(|s| s.template),
                            );
                        }
                        (RootKey::Template, Some(["template"])) => {
                            pod = Some(map.next_value::<Option<Pod>>()?)
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let Some(kind) = kind else {
            return Err(Error::custom("no kind"));
        };
        let metadata: ObjectMeta = metadata.unwrap_or_default();
        let found = match template_path(&kind) {
            Some(path) if POD => {
                let is_pod = kind == "Pod";
                Some(match pod.flatten() {
                    // A Pod always has its pod (its spec may be absent).
                    None if path.is_empty() => {
                        let mut pod = Pod {
                            metadata: metadata.clone(),
                            spec: PodSpec::default(),
                        };
                        pod.apply_api_defaults(is_pod);
                        FoundPod { pod, is_pod }
                    }
                    None => FoundPod {
                        pod: Pod::default(),
                        is_pod,
                    },
                    Some(mut pod) => {
                        if path.is_empty() {
                            pod.metadata = metadata.clone();
                        }
                        if pod.metadata.name.is_empty() {
                            pod.metadata.name = metadata.name.clone();
                        }
                        if pod.metadata.namespace.is_none() {
                            pod.metadata.namespace = metadata.namespace.clone();
                        }
                        pod.apply_api_defaults(is_pod);
                        FoundPod { pod, is_pod }
                    }
                })
            }
            _ => None,
        };
        Ok(TypedObject {
            api_version,
            kind,
            metadata,
            found,
        })
    }
}
