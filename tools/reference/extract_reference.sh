#!/bin/sh
# Extract the official SparseGPT implementation (IST-DASLab/sparsegpt) from a local git
# mirror into the git-ignored folder .devdeps/sparsegpt/ (never into tracked paths), and
# record the commit in .devdeps/sparsegpt/REFERENCE_COMMIT.
# Usage: tools/reference/extract_reference.sh [GIT_DIR] [REV]
set -eu
GIT_DIR=${1:-/work/.mirror/IST-DASLab+sparsegpt/repo}
REV=${2:-HEAD}
[ -d "$GIT_DIR/.git" ] && GIT_DIR=$GIT_DIR/.git
DEST=.devdeps/sparsegpt
rm -rf "$DEST"
mkdir -p "$DEST"
git --git-dir="$GIT_DIR" archive "$REV" | tar -x -C "$DEST"
git --git-dir="$GIT_DIR" rev-parse "$REV^{commit}" > "$DEST/REFERENCE_COMMIT"
echo "extracted $(cat "$DEST/REFERENCE_COMMIT") into $DEST"
