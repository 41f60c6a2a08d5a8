#!/usr/bin/env python3
"""Evict every file under the given directories from the page cache (POSIX_FADV_DONTNEED), for
cold-cache benchmark runs on machines where /proc/sys/vm/drop_caches is not writable.

Usage: benches/evict.py DIR...
"""

import os
import sys


def evict(root):
    n = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOATIME)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                n += 1
            finally:
                os.close(fd)
    return n


if __name__ == "__main__":
    total = sum(evict(d) for d in sys.argv[1:])
    print(f"evicted {total} files", file=sys.stderr)
