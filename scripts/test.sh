#!/usr/bin/env bash
# The whole test suite: what CI runs after its lint steps, and what a
# developer runs before pushing. Installs what it needs when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== unit, integration and doc tests (debug)"
cargo test --workspace --locked

echo "== golden-bit tests in release (the same bits as in debug)"
cargo test --workspace --locked --release --test golden
