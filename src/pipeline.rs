//! The pipeline every subcommand runs: load inputs → lower PSPs → scope → emit. `psp`, `pss`,
//! `check` and `diff` call it; nothing here calls back up into the command layer.

use crate::diag::{Diagnostic, Diagnostics};
use crate::{Error, backend, front, ir, load, scope};

/// Loads inputs, reporting every error; notes for ignored objects in verbose mode.
pub fn load_inputs(
    inputs: &[std::path::PathBuf],
    limits: &load::Limits,
) -> Result<(Vec<load::Object>, Diagnostics), Error> {
    let mut diags = Diagnostics::default();
    let mut objects = Vec::new();
    load::for_each_object(inputs, limits, &mut |o| objects.push(o), &mut diags);
    if diags.has_errors() {
        return Err(Error::Input(diags));
    }
    Ok((objects, diags))
}

/// Loads and lowers PSPs: the front half of `polytrans psp`.
pub fn load_policies(
    inputs: &[std::path::PathBuf],
    limits: &load::Limits,
    options: &front::psp::Options,
    verbose: bool,
) -> Result<(Vec<ir::Policy>, Vec<load::Object>, Diagnostics), Error> {
    let (objects, mut diags) = load_inputs(inputs, limits)?;
    if verbose {
        for o in objects
            .iter()
            .filter(|o| !crate::k8s::KNOWN_KINDS.contains(&o.kind.as_str()))
        {
            diags.push(
                Diagnostic::note(format!("ignoring {} (not used by polytrans)", o.describe()))
                    .at(o.location()),
            );
        }
    }
    let (policies, warnings) = front::psp::lower_all_with(&objects, options).map_err(|e| {
        let mut all = diags.clone();
        all.extend(e);
        Error::Input(all)
    })?;
    diags.extend(warnings);
    if policies.is_empty() {
        let mut d = diags.clone();
        d.push(
            Diagnostic::error("no PodSecurityPolicy found in the input").with_help(
                "`kubectl get psp -o yaml > psp.yaml` exports them; kinds found: ".to_string()
                    + &kinds_found(&objects),
            ),
        );
        return Err(Error::Input(d));
    }
    Ok((policies, objects, diags))
}

fn kinds_found(objects: &[load::Object]) -> String {
    let kinds: std::collections::BTreeSet<&str> = objects.iter().map(|o| o.kind.as_str()).collect();
    if kinds.is_empty() {
        "none".into()
    } else {
        kinds.into_iter().collect::<Vec<_>>().join(", ")
    }
}

/// The scoping pass over the loaded objects (RBAC, namespaces, workloads).
pub fn scope_of(policies: &[ir::Policy], objects: &[load::Object]) -> scope::Scope {
    scope::Scope::compute(policies, front::rbac::cluster_facts(objects))
}

/// Runs one target of the registry on policies and their scope.
pub fn emit(
    target: &backend::Target,
    policies: &[ir::Policy],
    scope: &scope::Scope,
    common: &backend::Common,
    options: &backend::Options,
) -> Result<backend::Emitted, Error> {
    emit_into(target, policies, scope, common, options, None)
}

/// [`emit`], handing each file to `sink` as it is rendered (see [`backend::Input::sink`]).
pub fn emit_into(
    target: &backend::Target,
    policies: &[ir::Policy],
    scope: &scope::Scope,
    common: &backend::Common,
    options: &backend::Options,
    sink: Option<&backend::FileSink<'_>>,
) -> Result<backend::Emitted, Error> {
    let input = backend::Input {
        policies,
        scope,
        common,
        sink,
    };
    target.run(&input, options)
}
