//! AFL++ entry point of the `handoff` target: see [`memory_fuzz::handoff::run`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        memory_fuzz::handoff::run(data);
    });
}
