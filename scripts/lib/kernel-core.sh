# kernel-core.sh — sourced by the generators (gen-samples.sh,
# gen-realworld.sh): where the kernel writes a core and whether it is whole.
# The caller defines die and log.

core_pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null || echo core)
core_uses_pid=$(cat /proc/sys/kernel/core_uses_pid 2>/dev/null || echo 0)

# find_core DIR PID EXE: the core the kernel wrote for PID (running EXE) per
# core_pattern.
find_core() {
    local dir=$1 pid=$2 exe=$3 pat f
    pat=$core_pattern
    pat=${pat//%%/@PERCENT@}
    pat=${pat//%p/$pid}
    pat=${pat//%P/$pid}
    pat=${pat//%e/${exe:0:15}}
    # Other specifiers (%t time, %h host, %s signal, ...): match anything.
    pat=$(printf '%s' "$pat" | sed 's/%./*/g; s/@PERCENT@/%/g')
    [ "$core_uses_pid" = 1 ] && [ "${core_pattern#*%p}" = "$core_pattern" ] && pat="$pat.$pid"
    case "$pat" in /*) ;; *) pat="$dir/$pat" ;; esac
    for f in $pat; do
        [ -f "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}

# check_core_complete CORE: every PT_LOAD's file range lies inside the file.
check_core_complete() {
    local core=$1 size need=0 type off vaddr paddr filesz rest end
    size=$(stat -c %s "$core")
    head -c 4 "$core" | grep -q 'ELF' || die "$core is not an ELF file"
    while read -r type off vaddr paddr filesz rest; do
        [ "$type" = LOAD ] || continue
        end=$((off + filesz))
        [ $end -gt $need ] && need=$end
    done < <(readelf -lW "$core")
    [ $need -gt 0 ] || die "$core: readelf -l found no LOAD segment"
    if [ $need -gt $size ]; then
        die "$core is truncated: segments need $need bytes, file has $size"
    fi
    log "core complete: $size bytes on disk, segments end at $need"
}
