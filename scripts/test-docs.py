#!/usr/bin/env python3
"""Runs the README's and docs/'s blocks as a user would copy them, in a fresh copy of the
checkout's tracked files (nothing else: no build products, nothing beside the checkout).

In each Markdown file, in order:
- a ```sh block runs in bash from the copy's root (`set -e`); exported variables and the
  directory carry over to the file's next block, as in one terminal;
- a block right after `<!-- doc-test: file PATH -->` is written to PATH (in the copy);
- a ```text block right after `<!-- doc-test: output -->` is what the previous block printed
  (stdout and stderr): each of its lines must match a line of that output, in order, `...`
  standing for any text within a line, and a line `...` alone for any lines;
- a block right after `<!-- doc-test: skip: REASON -->` is not run, and REASON is printed;
- any other block fails the test: every block a user might copy is run or says why not.

The copy's target/ is the checkout's (the builds are reused: cargo hashes path packages
relative to the workspace). HOME is a scratch directory. Run as root without sudo, `sudo`
runs the command as it is.
    scripts/test-docs.py [FILE.md ...]       (default: README.md, then docs/*.md)
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!-- doc-test: (skip: (?P<reason>.+?)|file (?P<file>\S+)|output) -->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(path):
    """(line number, language, text, marker match or None) for each fenced block."""
    lines = path.read_text().splitlines()
    i, marker = 0, None
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            start, lang = i + 1, m.group(1)
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            yield start, lang, "\n".join(body) + "\n", marker
            marker = None
        elif lines[i].strip():
            marker = MARKER.match(lines[i].strip())
        i += 1


def matches(expected, output):
    """Each expected line matches an output line, in order; `...` is a wildcard."""
    out = output.splitlines()
    pos = 0
    for want in expected.splitlines():
        if want.strip() == "...":
            continue
        pattern = re.compile("^" + ".*".join(re.escape(p) for p in want.split("...")) + "$")
        while pos < len(out) and not pattern.match(out[pos].rstrip()):
            pos += 1
        if pos == len(out):
            return f"no line matching {want!r} (in order)"
        pos += 1
    return None


def fresh_copy(work):
    """The checkout's tracked files, as a clone has them, with the checkout's target/."""
    copy = work / "amljpeg"
    if work.exists():
        shutil.rmtree(work)
    copy.mkdir(parents=True)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src, dst = ROOT / name, copy / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)
    (copy / "target").symlink_to(ROOT / "target")
    return copy


def environment(work):
    env = dict(os.environ)
    home = work / "home"
    home.mkdir()
    real_home = Path(os.environ.get("HOME", "/root"))
    env.update({
        "HOME": str(home),
        # The toolchains and caches stay the real ones (downloads are not what is tested).
        "CARGO_HOME": os.environ.get("CARGO_HOME", str(real_home / ".cargo")),
        "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", str(real_home / ".rustup")),
        "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(real_home / ".cache")),
    })
    env.pop("CARGO_TARGET_DIR", None)
    if os.geteuid() == 0 and shutil.which("sudo") is None:
        shim = work / "bin"
        shim.mkdir()
        (shim / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
        (shim / "sudo").chmod(0o755)
        env["PATH"] = f"{shim}:{env['PATH']}"
    return env


def run_file(md, copy, env, state):
    """Runs one file's blocks; returns (ran, skipped) or raises SystemExit on a failure."""
    rel = md.relative_to(ROOT)
    ran = skipped = 0
    last_output = None
    state.write_text(f"cd {copy}\n")
    for line, lang, text, marker in blocks(md):
        where = f"{rel}:{line}"
        if marker and marker.group("reason"):
            print(f"  {where}: not run: {marker.group('reason')}")
            skipped += 1
        elif marker and marker.group("file"):
            target = copy / marker.group("file")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        elif marker:  # <!-- doc-test: output -->
            if lang != "text" or last_output is None:
                sys.exit(f"{where}: an output block must be ```text after a block that ran")
            problem = matches(text, last_output)
            if problem:
                sys.exit(f"{where}: the output no longer says what the text does: {problem}\n"
                         f"--- it printed:\n{last_output}")
        elif lang == "sh":
            script = (f"set -e\nsource {state}\n{text}\n"
                      f"{{ echo \"cd $PWD\"; export -p; }} > {state}\n")
            result = subprocess.run(["bash", "-c", script], cwd=copy, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    timeout=900)
            last_output = result.stdout
            if result.returncode != 0:
                sys.exit(f"{where}: the block failed (exit {result.returncode}):\n{text}"
                         f"--- it printed:\n{last_output}")
            print(f"  {where}: ran")
            ran += 1
        else:
            sys.exit(f"{where}: a ```{lang} block that is neither run nor marked "
                     "(<!-- doc-test: skip: REASON -->, file PATH, or output)")
    return ran, skipped


def main():
    files = [Path(f).resolve() for f in sys.argv[1:]] or \
        [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    work = ROOT / "target" / "doc-test"
    copy = fresh_copy(work)
    env = environment(work)
    total_ran = total_skipped = 0
    for md in files:
        print(f"{md.relative_to(ROOT)}:")
        ran, skipped = run_file(md, copy, env, work / "shell-state")
        total_ran += ran
        total_skipped += skipped
    print(f"docs: {total_ran} blocks ran as written, {total_skipped} not run (each says why)")


if __name__ == "__main__":
    main()
