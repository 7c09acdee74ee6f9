//! `--to pss`: the level-fit report (text, YAML or JSON).

use super::{Emitted, Input, OutputFile};
use crate::fit::{FitReport, fit, fit_set, render_text};

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[("pss.txt", &["--to", "pss"])];

pub fn emit(input: &Input<'_>) -> Result<Emitted, crate::Error> {
    let mut reports: Vec<FitReport> = input
        .policies
        .iter()
        .map(|p| fit(p, input.common.pss_version))
        .collect();
    let per_policy = reports.len();
    if input.policies.len() > 1 {
        // A namespace allowed to use every PSP admits the union of what they admit.
        reports.push(fit_set(input.policies, input.common.pss_version));
    }
    let format = input.common.format.as_deref().unwrap_or("text");
    let render = |r: &[FitReport]| -> Result<String, crate::Error> {
        Ok(match format {
            "text" => render_text(r),
            "yaml" => crate::render::to_yaml(&r),
            "json" => {
                let mut s = serde_json::to_string_pretty(&r).expect("report serialises");
                s.push('\n');
                s
            }
            f => {
                return Err(crate::Error::Usage(format!(
                    "`--to pss` supports `--format text|yaml|json`, not `{f}`"
                )));
            }
        })
    };
    let ext = if format == "text" { "txt" } else { format };
    let mut files = Vec::new();
    for r in reports[..per_policy]
        .iter()
        .filter(|_| input.common.want_files)
    {
        files.push(OutputFile {
            name: format!("pss/{}.{ext}", super::k8s_name(&r.policy)),
            content: render(std::slice::from_ref(r))?,
        });
    }
    Ok(Emitted {
        stdout: render(&reports)?,
        files,
        ..Default::default()
    })
}
