#!/usr/bin/env bash
# git init/add/commit/log/gc/fsck on a generated tree of a few hundred files.
source "$(dirname "$0")/common.sh"
require git awk

# Fixed identity, dates and configuration so both runs produce the same hashes.
export HOME=$HZ_WORK/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Hako Zuna" GIT_AUTHOR_EMAIL="hz@example.invalid"
export GIT_COMMITTER_NAME="Hako Zuna" GIT_COMMITTER_EMAIL="hz@example.invalid"
export GIT_AUTHOR_DATE="2024-01-02T03:04:05 +0000" GIT_COMMITTER_DATE="2024-01-02T03:04:05 +0000"
mkdir -p "$HOME"

# A tree of 400 files in 20 directories; the second pass edits/removes some.
gen_tree() {  # gen_tree DIR PASS
  awk -v dir="$1" -v pass="$2" 'BEGIN {
    srand(7 + pass)
    for (f = 0; f < 400; f++) {
      if (pass == 2 && f % 9 != 0) continue
      d = dir "/d" (f % 20)
      system("mkdir -p " d)
      name = d "/file" f ".txt"
      if (pass == 2 && f % 27 == 0) { system("rm -f " name); continue }
      n = 5 + (f * 37) % 200
      for (i = 0; i < n; i++)
        printf "%s line %d of file %d pass %d: %d %x\n", (i % 3 ? "alpha" : "beta"), i, f, pass, int(rand() * 1e6), f * i > name
      close(name)
    }
  }'
}

cat >"$HZ_WORK/script.sh" <<'GITEOF'
set -euo pipefail
git -c init.defaultBranch=main init -q repo
cd repo
git config core.autocrlf false
git config gc.auto 0
git config pack.threads 2
"$GEN_TREE" . 1
git add -A
git commit -q -m "initial tree"
"$GEN_TREE" . 2
git add -A
git commit -q -m "second pass: edit and remove"
git tag -a v1 -m "tag v1"
git log --stat --format=fuller
git log -p --format=%H | sha256sum
git ls-tree -r HEAD | sha256sum
git rev-parse HEAD HEAD~1 v1
git diff --stat HEAD~1 HEAD | tail -n 1
git gc -q --aggressive
git count-objects -v | grep -E '^(count|in-pack|packs|prune-packable|garbage)'
git fsck --full --strict 2>&1
git verify-pack -v .git/objects/pack/*.idx | tail -n 2
git archive --format=tar HEAD | sha256sum
git blame -s d3/file63.txt | sha256sum
GITEOF

# Export the generator for the script (a file, so it runs under the same preload).
cat >"$HZ_WORK/gen_tree.sh" <<GENEOF
#!/usr/bin/env bash
$(declare -f gen_tree)
gen_tree "\$@"
GENEOF
chmod +x "$HZ_WORK/gen_tree.sh"
export GEN_TREE=$HZ_WORK/gen_tree.sh

run_pair git bash "$HZ_WORK/script.sh"
same git.out git.err
grep -c '' "$HZ_WORK/hz/git.out" | sed 's/^/lines of git output: /'
pass
