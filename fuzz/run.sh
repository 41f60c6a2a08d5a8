#!/usr/bin/env bash
# Runs one fuzz target for SECONDS (default 600), its corpus seeded from the samples:
#   fuzz/run.sh TARGET [SECONDS]
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). A crash leaves its
# input in fuzz/artifacts/TARGET/; turn it into a regression test (tests/fuzz_regressions.rs)
# named after what it found, with the input under fuzz/regressions/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
target="$1"
seconds="${2:-600}"
corpus="corpus/$target"
mkdir -p "$corpus"
samples=../hashsets/samples
case "$target" in
    import_vics) cp "$samples"/vics-*.json "$corpus"/ ;;
    import_tables)
        # The first byte picks the table: 0 ICSE, 1 NSRL RDS 2.x, 2 HashKeeper, 3 generic CSV.
        for pair in "0 icse-export.csv" "1 NSRLFile.txt" "2 hashkeeper.hsh" "3 generic.csv"; do
            set -- $pair
            { printf "\\x0$1"; cat "$samples/$2"; } > "$corpus/seed-$2"
        done ;;
    import_lists)
        # 0 hashdeep, 1 digest list, 2 digest list with --blake3.
        { printf '\x00'; cat "$samples/hashdeep.txt"; } > "$corpus/seed-hashdeep"
        for f in md5sum.txt sha256-bsd.txt bare-sha1.txt; do
            { printf '\x01'; cat "$samples/$f"; } > "$corpus/seed-$f"
        done ;;
    import_encase) cp "$samples/encase.hash" "$corpus"/ ;;
    sniff | decode_pdq)
        # Small images only: a large photograph makes every input slow (74 inputs a second
        # against 400 with seeds under 64 KiB) and the headers are where hostile input bites.
        cp "$samples"/images/*.png "$corpus"/
        if [ -d ../../shared/pdq-vectors ]; then
            find ../../shared/pdq-vectors -type f \( -name '*.jpg' -o -name '*.png' -o -name '*.gif' \) \
                -size -64k -exec cp {} "$corpus"/ \;
        fi ;;
    journal)
        # A real journal: a scan of the demo's evidence and a large sparse file, stopped with
        # Ctrl-C while the sparse file is read (the small files' records are in by then).
        (cd .. && cargo build --release -q)
        bin=../target/release/hashsift
        tmp=$(mktemp -d)
        "$bin" demo --out "$tmp/demo" > /dev/null
        cp -r "$tmp/demo/evidence" "$tmp/evidence"
        truncate -s 50G "$tmp/evidence/sparse"
        "$bin" scan -q -j 2 --db "$tmp/demo/known.db" -o "$tmp/out" "$tmp/evidence" &
        sleep 2
        kill -INT $! && wait $! || true
        # The first byte picks: 0 the whole journal, 1 one record's payload (one seed each).
        { printf '\x00'; cat "$tmp/out/journal.hsj"; } > "$corpus/seed-journal"
        python3 - "$tmp/out/journal.hsj" "$corpus" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
at, n = 20, 0
while at + 4 <= len(data):
    (length,) = struct.unpack_from("<I", data, at)
    payload = data[at + 4:at + 4 + length]
    open(f"{sys.argv[2]}/seed-record-{n}", "wb").write(b"\x01" + payload)
    at, n = at + 4 + length + 16, n + 1
PY
        rm -rf "$tmp" ;;
    container)
        # Every archive the container tests make, each with the byte that picks its format
        # (0 zip, 1 tar, 2 7z, 3 gzip, 4 bzip2, 5 xz, 6 zstd).
        tmp=$(mktemp -d)
        python3 ../tests/support/make_archives.py "$tmp"
        for pair in "0 stored.zip" "0 deflate.zip" "0 zip64.zip" "1 gnu.tar" "1 pax.tar" \
                    "2 files.7z" "3 x.tar.gz" "4 x.tar.bz2" "5 x.tar.xz" "6 x.tar.zst"; do
            set -- $pair
            if [ -f "$tmp/$2" ]; then
                { printf "\\x0$1"; cat "$tmp/$2"; } > "$corpus/seed-$2"
            fi
        done
        rm -rf "$tmp" ;;
    *) echo "unknown target $target" >&2; exit 64 ;;
esac
case "$target" in sniff | decode_pdq) max_len=65536 ;; *) max_len=1048576 ;; esac
exec cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$max_len"
