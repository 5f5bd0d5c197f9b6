//! AFL++ entry point of the `mcp` target: see [`memory_fuzz::mcp::run`].

fn main() {
    afl::fuzz!(|data: &[u8]| {
        memory_fuzz::mcp::run(data);
    });
}
