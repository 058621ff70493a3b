//! The hull command line: parse, call the library, print. No logic here.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
