//! A hostile server: prints what the build script did, tries every attack
//! itself, and exits 1 without doing the lab's work.

fn main() -> std::process::ExitCode {
    hw1_udp_echo::program("server", env!("HOSTILE_BUILD_LINES"))
}
