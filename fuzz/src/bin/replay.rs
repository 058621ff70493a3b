//! `replay TARGET FILE...`: run a target's checks on files (a crash
//! AFL++ saved, a corpus) without AFL++; a failed check panics.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((target, files)) = args.split_first() else {
        eprintln!("usage: replay TARGET FILE...");
        std::process::exit(2);
    };
    let check = hull_fuzz::target(target).unwrap_or_else(|| {
        eprintln!("replay: no target {target:?}");
        std::process::exit(2);
    });
    for f in files {
        eprintln!("replay {target} {f}");
        check(&std::fs::read(f).unwrap());
    }
}
