#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's
# image, with the zip's contents in /autograder/source (see
# autograder/README.md). It
#   1. installs Rust (rustup, minimal profile) in /usr/local unless cargo
#      is there, and lets every user run the toolchain (share-toolchain):
#      the grader, as root, builds each submission as an unprivileged user;
#   2. builds the grader, in release mode, into $AUTOGRADER_GRADER;
#   3. builds the graded lab's crate as handed out, so that its
#      dependencies are compiled once here and not for every submission;
#   4. closes the source directory, which holds the hidden tests, to every
#      user but root, and leaves the grader writable by root alone.
#
# Every path can be moved with an environment variable, so that CI can run
# this in a temporary directory laid out as Gradescope lays out /autograder:
#   AUTOGRADER_ROOT    default /autograder
#   AUTOGRADER_SOURCE  default $AUTOGRADER_ROOT/source (the kit: the zip's contents)
#   AUTOGRADER_GRADER  default $AUTOGRADER_ROOT/bin/grader (where the grader goes)
#   LAB                default DEFAULT_LAB of $AUTOGRADER_SOURCE/autograder.env
# CARGO_TARGET_DIR, if set, is where cargo builds the grader.
set -euo pipefail

root=${AUTOGRADER_ROOT:-/autograder}
source_dir=${AUTOGRADER_SOURCE:-$root/source}
grader=${AUTOGRADER_GRADER:-$root/bin/grader}
if [ -f "$source_dir/autograder.env" ]; then
  # shellcheck source=/dev/null
  . "$source_dir/autograder.env"
fi
lab=${LAB:-${DEFAULT_LAB:-}}

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
  echo "== installing Rust"
  if command -v apt-get >/dev/null 2>&1; then
    # A C linker and curl: Gradescope's Ubuntu images may lack them.
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates curl build-essential
  fi
  # Outside root's home, which other users may not enter. run_autograder
  # finds it through the line added to autograder.env, which it reads
  # however Gradescope starts it (a profile is read by login shells only).
  export RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo
  export PATH="$CARGO_HOME/bin:$PATH"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --no-modify-path --profile minimal --default-toolchain stable
  # shellcheck disable=SC2016 # $PATH is expanded when the file is read
  toolchain='export RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH="/usr/local/cargo/bin:$PATH"'
  grep -qxF "$toolchain" "$source_dir/autograder.env" 2>/dev/null ||
    echo "$toolchain" >>"$source_dir/autograder.env"
fi
cargo --version
# Installed here or not, every user must be able to run the toolchain: the
# grader, as root, builds each submission as an unprivileged user.
bash "$source_dir/autograder/share-toolchain"

echo "== building the grader"
target=${CARGO_TARGET_DIR:-$source_dir/target}
cargo build --release --locked -p grader \
  --manifest-path "$source_dir/Cargo.toml" --target-dir "$target"
mkdir -p "$(dirname "$grader")"
install -m 755 "$target/release/grader" "$grader"
"$grader" --version

# The crate of each lab graded, as handed out: a submission then compiles
# only its own code. A skeleton with todo!() holes builds.
echo "== building the lab's dependencies"
labs=${lab:-hw*}
for dir in "$source_dir"/labs/$labs-*/; do
  [ -f "$dir/Cargo.toml" ] || continue
  echo "   $(basename "$dir")"
  cargo build --quiet --manifest-path "$dir/Cargo.toml" --target-dir "$dir/target"
done

# The source directory holds the hidden tests (solutions/*/hidden.yaml):
# no user but its owner may enter it. The grader and its directory are
# root's (when this runs as root, as on Gradescope) and writable by their
# owner alone, so that no submission can put another grader in its place.
chmod go-rwx "$source_dir"
grader_dir=$(dirname "$grader")
if [ "$(id -u)" -eq 0 ]; then
  chown 0:0 "$grader" "$grader_dir"
fi
chmod go-w "$grader" "$grader_dir"
echo "== ready: $grader grades ${lab:-every lab}"
