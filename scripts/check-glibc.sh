#!/usr/bin/env bash
# Fails when an ELF program or shared library references a glibc symbol version newer than the
# floor, naming the file and the symbols; other files are passed over (directories are searched).
#   scripts/check-glibc.sh 2.17 FILE|DIR...
set -euo pipefail
floor=$1
shift
command -v objdump >/dev/null || { echo "objdump is missing: install binutils" >&2; exit 1; }
for path in "$@"; do
    [ -e "$path" ] || { echo "check-glibc: no $path" >&2; exit 1; }
done
status=0 checked=0
while IFS= read -r -d '' file; do
    [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
    # Programs and shared libraries only (e_type 2 or 3): object files have no dynamic symbols.
    case $(od -An -t u1 -j 16 -N 1 "$file" | tr -d ' ') in 2 | 3) ;; *) continue ;; esac
    checked=$((checked + 1))
    # Lines of `objdump -T`: ... GLIBC_2.34  pthread_create (or (GLIBC_2.17) for hidden ones).
    too_new=$(objdump -T "$file" | awk -v floor="$floor" '
        function newer(v, f,   a, b, i) {
            split(v, a, "."); split(f, b, ".")
            for (i = 1; i <= 3; i++) { if ((a[i] + 0) != (b[i] + 0)) return (a[i] + 0) > (b[i] + 0) }
            return 0
        }
        match($0, /GLIBC_[0-9.]+/) {
            v = substr($0, RSTART + 6, RLENGTH - 6)
            if (newer(v, floor)) print "GLIBC_" v " " $NF
        }' | sort -u)
    if [ -n "$too_new" ]; then
        echo "$file needs glibc newer than $floor:" >&2
        echo "$too_new" | sed 's/^/    /' >&2
        status=1
    fi
done < <(find "$@" -type f -print0)
[ "$checked" -gt 0 ] || { echo "check-glibc: no ELF file in $*" >&2; exit 1; }
[ "$status" -eq 0 ] && echo "$checked ELF files reference no glibc symbol newer than $floor"
exit "$status"
