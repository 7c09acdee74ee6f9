//! Every backend renders any IR (given as JSON) without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polytrans::cli::{Cli, Command, Target};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<polytrans::ir::IrDocument>(data) else { return };
    let common = polytrans::backend::Common::default();
    let input = polytrans::backend::Input { policies: &doc.policies, objects: &[], common: &common };
    for target in <Target as clap::ValueEnum>::value_variants() {
        let cli = <Cli as clap::Parser>::try_parse_from(["polytrans", "psp", "-", "--to", target.name()]).unwrap();
        let Command::Psp(args) = cli.command else { unreachable!() };
        let _ = polytrans::emit(*target, &input, &args);
    }
});
