fn main() {
    afl::fuzz!(|data: &[u8]| hull_fuzz::state(data));
}
