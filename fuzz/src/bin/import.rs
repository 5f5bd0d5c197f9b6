//! AFL++ entry point of the `import` target: see [`memory_fuzz::import::run`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        memory_fuzz::import::run(data);
    });
}
