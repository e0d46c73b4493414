#!/usr/bin/env python3
"""Write a dpkg status of N packages, cycling through the stanzas of SRC.

    dpkg-status.py SRC N OUT [--rename-all]

By default the first pass keeps SRC's names and later copies are renamed (`p<i>-<name>`),
so that every package is distinct, each stanza written without surrounding newlines
(bench/growth.sh). With --rename-all every stanza is renamed and written as read
(bench/pkgdb.sh). Shared by the benchmarks that need large package databases.
"""
import sys

src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rename_all = "--rename-all" in sys.argv[4:]
stanzas = [s for s in open(src, encoding="utf-8").read().split("\n\n") if s.strip()]
with open(out, "w", encoding="utf-8") as f:
    for i in range(n):
        s = stanzas[i % len(stanzas)]
        if rename_all or i >= len(stanzas):
            s = "\n".join(f"Package: p{i}-" + l[len("Package: "):] if l.startswith("Package: ") else l
                          for l in s.split("\n"))
        f.write((s if rename_all else s.strip("\n")) + "\n\n")
