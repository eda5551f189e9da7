#!/usr/bin/env bash
# Entrypoint of the resad_tf images (docker/Dockerfile).
#
#   IMAGE <script> [--flags]   run bin/<script>; --output_dir defaults to $RESAD_OUT/<script>
#                              (a rerun there needs --overwrite: earlier results are never replaced silently)
#   IMAGE help                 list the scripts (also with no arguments)
#   IMAGE <command> [args]     anything else (bash, python, pytest, ...) runs as given
#
# RESAD_BIN (default: the bin/ next to this docker/ directory) and RESAD_OUT
# (default: /out) can be overridden, which also lets the script run outside a
# container (tests/test_docker.py does).
set -euo pipefail

RESAD_BIN="${RESAD_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bin}"
RESAD_OUT="${RESAD_OUT:-/out}"

scripts() {
    local path
    for path in "$RESAD_BIN"/*; do
        if [[ -f "$path" && -x "$path" ]]; then
            basename "$path"
        fi
    done
}

usage() {
    cat <<EOF
usage: docker run [--gpus all] -v \$PWD/data:/data:ro -v \$PWD/out:/out IMAGE <script> [--flags]

Runs bin/<script> of resad_tf; results go to $RESAD_OUT/<script> unless --output_dir is given.
To rerun a script into the same directory, add --overwrite (its previous results are replaced).
Any other command (bash, python, ...) runs as given.

scripts:
$(scripts | sed 's/^/  /')

example:
  IMAGE salad --sr=3.3,3.7 --data=/data/events_anomalydetection_v2.features.h5
  IMAGE cathode --helpfull
EOF
}

# A script takes --output_dir when it uses the shared command line (cli.main) or defines the flag.
takes_output_dir() {
    grep -Eq 'cli\.main\(|DEFINE_[a-z]+\([[:space:]]*"output_dir"' "$1"
}

case "${1:-help}" in
    help | -h | --help)
        usage
        exit 0
        ;;
    -*)
        echo "error: '$1' is a flag; name a script first, e.g. 'salad $1'" >&2
        exit 2
        ;;
esac

name="$1"
shift
script="$RESAD_BIN/$name"
if [[ "$name" != */* && -f "$script" && -x "$script" ]]; then
    if takes_output_dir "$script"; then
        if [[ -e "$RESAD_OUT" && ! -w "$RESAD_OUT" ]]; then
            echo "warning: $RESAD_OUT is not writable by uid $(id -u); create the host directory" \
                "before mounting it, or run with --user \$(id -u):\$(id -g)" >&2
        fi
        # The default goes first: a later --output_dir (here or in a --flagfile) wins.
        set -- "--output_dir=$RESAD_OUT/$name" "$@"
    fi
    exec "$script" "$@"
fi

if ! command -v "$name" >/dev/null 2>&1; then
    echo "error: '$name' is neither a script in $RESAD_BIN nor a command" >&2
    echo "scripts: $(scripts | tr '\n' ' ')" >&2
    exit 127
fi
exec "$name" "$@"
