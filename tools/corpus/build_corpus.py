#!/usr/bin/env python3
"""Build the byte-level corpus used to train and evaluate the project's OPT models.

Source: the English reStructuredText sources of the Linux kernel documentation as
shipped by the Debian package ``linux-doc-6.1`` (``apt-get install linux-doc-6.1``):
every regular file ``*.rst.gz`` below /usr/share/doc/linux-doc-6.1/Documentation,
except the ``translations/`` subtree (Chinese, Japanese, Korean, Italian, Spanish
translations; not English prose).

Construction (deterministic, nothing is normalised):
  * file list sorted by relative path, compared as UTF-8 bytes (C locale order);
  * each file gzip-decompressed, its bytes taken verbatim, followed by the fixed
    separator b"\\n\\n";
  * the concatenation is split by byte position: train = [0, 90 %),
    calibration = [90 %, 95 %), evaluation = [95 %, 100 %) with integer boundaries
    floor(n*90/100) and floor(n*95/100);
  * tokens are the bytes themselves (vocabulary 256), written as little-endian uint16.

Outputs:
  OUT_DATA/calibration.bin, OUT_DATA/evaluation.bin, OUT_DATA/corpus.json  (committed)
  OUT_CACHE/train.bin, OUT_CACHE/train.bin.gz (gzip, mtime 0; what travels to the
  GPU machine)                                                             (ignored)

Only the Python standard library is needed.
"""
import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys

PACKAGE = "linux-doc-6.1"
ROOT = "/usr/share/doc/linux-doc-6.1/Documentation"
SEPARATOR = b"\n\n"


def package_version(pkg):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                             check=True, capture_output=True, text=True).stdout.strip()
        return out or None
    except (OSError, subprocess.CalledProcessError):
        return None


def list_sources(root):
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == "translations" or rel_dir.startswith("translations" + os.sep):
            dirnames[:] = []
            continue
        for f in filenames:
            if not f.endswith(".rst.gz"):
                continue
            full = os.path.join(dirpath, f)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            files.append(os.path.relpath(full, root))
    files.sort(key=lambda p: p.encode("utf-8"))
    return files


def to_u16_bytes(data):
    """bytes -> little-endian uint16 tokens (low byte = the byte, high byte = 0)."""
    out = bytearray(2 * len(data))
    out[0::2] = data
    return bytes(out)


def write_atomic(path, payload):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(payload)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=ROOT, help="Documentation folder of linux-doc-6.1")
    ap.add_argument("--out-data", default="models/data", help="folder for calibration/evaluation .bin + corpus.json")
    ap.add_argument("--out-cache", default=".cache/corpus", help="folder for train.bin (not committed)")
    ap.add_argument("--expect-version", default=None,
                    help="fail unless the installed package has this version")
    args = ap.parse_args()

    if not os.path.isdir(args.root):
        sys.exit(f"error: {args.root} not found: apt-get install -y {PACKAGE}")
    version = package_version(PACKAGE)
    if args.expect_version and version != args.expect_version:
        sys.exit(f"error: {PACKAGE} version is {version}, expected {args.expect_version}")

    files = list_sources(args.root)
    if not files:
        sys.exit(f"error: no *.rst.gz files below {args.root}")
    parts = []
    for rel in files:
        with gzip.open(os.path.join(args.root, rel), "rb") as f:
            parts.append(f.read())
        parts.append(SEPARATOR)
    corpus = b"".join(parts)
    n = len(corpus)
    a, b = n * 90 // 100, n * 95 // 100
    splits = {"train": corpus[:a], "calibration": corpus[a:b], "evaluation": corpus[b:]}

    os.makedirs(args.out_data, exist_ok=True)
    os.makedirs(args.out_cache, exist_ok=True)
    info = {
        "package": PACKAGE,
        "package_version": version,
        "source_root": args.root,
        "selection": "regular files *.rst.gz below Documentation/, excluding translations/",
        "order": "relative path, sorted as UTF-8 bytes",
        "separator": "each file's decompressed bytes followed by b'\\n\\n'",
        "normalisation": "none",
        "files": len(files),
        "first_file": files[0],
        "last_file": files[-1],
        "corpus_bytes": n,
        "corpus_sha256": hashlib.sha256(corpus).hexdigest(),
        "file_list_sha256": hashlib.sha256("\n".join(files).encode()).hexdigest(),
        "split": {"rule": "byte position: train [0, floor(0.90 n)), calibration [floor(0.90 n), floor(0.95 n)), evaluation [floor(0.95 n), n)",
                  "boundaries": [0, a, b, n]},
        "token_format": "byte-level tokens (vocab 256), little-endian uint16, one stream per file",
        "outputs": {},
    }
    for name, data in splits.items():
        payload = to_u16_bytes(data)
        folder = args.out_cache if name == "train" else args.out_data
        path = os.path.join(folder, name + ".bin")
        write_atomic(path, payload)
        info["outputs"][name] = {
            "path": os.path.relpath(path),
            "tokens": len(data),
            "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        if name == "train":
            gz_path = path + ".gz"
            buf = gzip.compress(payload, compresslevel=6, mtime=0)
            write_atomic(gz_path, buf)
            info["outputs"][name]["gzip_path"] = os.path.relpath(gz_path)
            info["outputs"][name]["gzip_sha256"] = hashlib.sha256(buf).hexdigest()
        print(f"{name:12s} {len(data):>10d} tokens  sha256 {info['outputs'][name]['sha256']}  -> {path}")
    with open(os.path.join(args.out_data, "corpus.json") + ".tmp", "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    os.replace(os.path.join(args.out_data, "corpus.json") + ".tmp", os.path.join(args.out_data, "corpus.json"))
    print(f"{PACKAGE} {version}: {len(files)} files, {n} bytes")


if __name__ == "__main__":
    main()
