fn main() {
    afl::fuzz!(|data: &[u8]| hull_fuzz::update(data));
}
