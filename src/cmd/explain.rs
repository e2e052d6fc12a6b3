//! `flowdx explain`.

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _out: &mut dyn std::io::Write) -> crate::Result<u8> {
    unimplemented!("explain")
}
