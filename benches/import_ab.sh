#!/usr/bin/env bash
# Imports one hash set with each binary given, in turn, into a new database, and prints the
# wall time, records/s, time by stage, peak RSS and database size of each run. Alternate two
# binaries (old new old new ...) to compare them on this noisy machine in the same minutes.
#
#   benches/import_ab.sh /work/bench/vics-10m.json ./hs-old ./hs-new ./hs-old ./hs-new
#
# The sets come from benches/gen_hashsets.py. The database is written to ./ab.db (removed
# before each run); `sync` and 5 s between runs, so one run's write-back does not slow the next.
set -euo pipefail
set_file=$1
shift
for bin in "$@"; do
  rm -f ab.db
  sync
  sleep 5
  /usr/bin/time -f "$bin: %e s wall, %M KB peak RSS, %U s user, %S s system" \
    "$bin" db --db ab.db import "$set_file" 2>&1 |
    grep -E "records/s|time by stage|wall"
  echo "database: $(stat -c %s ab.db) bytes"
done
rm -f ab.db
