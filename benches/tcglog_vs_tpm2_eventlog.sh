#!/usr/bin/env bash
# Whole-process comparison: `hgs tcglog replay` vs tpm2-tools' `tpm2_eventlog` on the same files,
# in the same run. Prints wall time per tool and the ratio (tpm2_eventlog / hgs).
#
# Files: a synthetic crypto-agile SHA-1+SHA-256 log of N events (default 100000, written here by a
# few lines of Python so neither tool produced it), plus every shared corpus log given as
# arguments. Usage: benches/tcglog_vs_tpm2_eventlog.sh [N] [extra.bin ...]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"; shift || true
command -v tpm2_eventlog >/dev/null || { echo "tpm2_eventlog not installed (apt-get install tpm2-tools)"; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet --bin hgs
HGS="$CARGO_TARGET_DIR/release/hgs"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT

python3 - "$N" "$WORK/synthetic.bin" <<'PY'
import hashlib, struct, sys
n, out = int(sys.argv[1]), sys.argv[2]
spec = b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, 2) \
     + struct.pack("<HH", 4, 20) + struct.pack("<HH", 11, 32) + b"\0"
buf = [struct.pack("<II", 0, 3) + b"\0" * 20 + struct.pack("<I", len(spec)) + spec]
for i in range(n):
    data = b"synthetic event %d" % i
    buf.append(struct.pack("<III", i % 16, 0x80000007, 2)
               + struct.pack("<H", 4) + hashlib.sha1(data).digest()
               + struct.pack("<H", 11) + hashlib.sha256(data).digest()
               + struct.pack("<I", len(data)) + data)
open(out, "wb").write(b"".join(buf))
PY

# Best of 3 wall-clock runs, in seconds.
best() {
  local b=""; for _ in 1 2 3; do
    local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    b=$(python3 -c "t=$e-$s; b='$b'; print(t if b=='' or t<float(b) else b)")
  done; echo "$b"
}

printf '%-48s %10s %10s %12s %8s\n' file events hgs_s tpm2_s ratio
for f in "$WORK/synthetic.bin" "$@"; do
  ev=$("$HGS" tcglog show "$f" 2>/dev/null | wc -l)
  h=$(best "$HGS" tcglog replay "$f" --json)
  t=$(best tpm2_eventlog "$f")
  python3 -c "print('%-48s %10d %10.4f %12.4f %7.1fx' % ('$(basename "$f")', $ev, $h, $t, $t/$h))"
done
