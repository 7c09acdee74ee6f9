//! `--to ir`: the IR itself, as YAML (or JSON with `--format json`).

use super::{Emitted, Input, OutputFile};
use crate::ir::IrDocument;

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[("ir.yaml", &["--to", "ir"])];

pub fn emit(input: &Input<'_>) -> Result<Emitted, crate::Error> {
    let doc = IrDocument::new(input.policies.to_vec());
    let stdout = match input.common.format.as_deref() {
        Some("json") => {
            let mut s = serde_json::to_string_pretty(&doc).expect("IR serialises");
            s.push('\n');
            s
        }
        None | Some("yaml") => crate::render::to_yaml(&doc),
        Some(f) => {
            return Err(crate::Error::Usage(format!(
                "`--to ir` supports `--format yaml|json`, not `{f}`"
            )));
        }
    };
    let files = input
        .policies
        .iter()
        .filter(|_| input.common.want_files)
        .map(|p| OutputFile {
            name: format!("ir/{}.yaml", super::k8s_name(&p.name)),
            content: crate::render::to_yaml(&IrDocument::new(vec![p.clone()])),
        })
        .collect();
    Ok(Emitted {
        stdout,
        files,
        ..Default::default()
    })
}
